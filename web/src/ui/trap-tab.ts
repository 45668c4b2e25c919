import type { KeyboardEvent } from 'react';

/** Keeps Tab and Shift+Tab inside the dialog: from the last control to the first and back. */
export function trapTab(dialog: HTMLDialogElement, e: KeyboardEvent<HTMLDialogElement>): void {
  const focusable = [
    ...dialog.querySelectorAll<HTMLElement>(
      'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])',
    ),
  ].filter((el) => !(el as HTMLButtonElement).disabled && el.offsetParent !== null);
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (!first || !last) return;
  if (e.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}
