/**
 * A button the caller may or may not use. One they may not use is disabled and says, in text next to it (not only in
 * a tooltip), which role they would need: never a button that fails, never one that hides why.
 */
import { useId, type ButtonHTMLAttributes, type ReactNode } from 'react';

interface GatedProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  /** null: allowed; otherwise what the caller lacks, e.g. "the admin role". */
  needs: string | null;
  children: ReactNode;
}

export function Gated({ needs, children, disabled, ...rest }: GatedProps) {
  const id = useId();
  return (
    <span className="gated">
      <button
        type="button"
        {...rest}
        disabled={disabled === true || needs !== null}
        aria-describedby={needs !== null ? id : rest['aria-describedby']}
      >
        {children}
      </button>
      {needs !== null && (
        <span id={id} className="muted needs">
          needs {needs}
        </span>
      )}
    </span>
  );
}
