/** Copying text: a button that copies a value and says it did, and a line of text (a pull reference) with one. */
import { useState } from 'react';

export function CopyButton({ value, label }: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
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
  );
}

export function CopyText({ value, label }: { value: string; label: string }) {
  return (
    <span className="digest-wrap copy-text">
      <code>{value}</code>
      <CopyButton value={value} label={label} />
    </span>
  );
}
