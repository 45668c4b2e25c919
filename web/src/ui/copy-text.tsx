/** A line of text to copy (a pull reference, a command): monospace, with a copy button that says it copied. */
import { useState } from 'react';

export function CopyText({ value, label }: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span className="digest-wrap copy-text">
      <code>{value}</code>
      <button
        type="button"
        className="icon"
        aria-label={`Copy ${label}`}
        onClick={() =>
          void navigator.clipboard
            ?.writeText(value)
            .then(() => setCopied(true))
            .catch(() => setCopied(false))
        }
      >
        {copied ? 'copied' : 'copy'}
      </button>
    </span>
  );
}
