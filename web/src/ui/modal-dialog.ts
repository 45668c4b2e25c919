/**
 * A native modal <dialog> the way the console's dialogs behave (the promote dialog, pin / track): shown modally when
 * it mounts, Tab kept inside it, Esc or a button closes it, and the focus goes back to the control that opened it.
 * Spread `dialogProps` on the <dialog>; `closeNow` closes it from a button.
 */
import { useRef, type KeyboardEvent, type SyntheticEvent } from 'react';
import { trapTab } from './trap-tab.ts';

export function useModalDialog(onClose: () => void) {
  const dialog = useRef<HTMLDialogElement | null>(null);
  const opener = useRef<HTMLElement | null>(null);
  // Closing tells the page at once, in the event that closed it (Esc's `cancel`, a button's click): the native `close`
  // event comes later, as a task of its own, and a click on "Promote…" in between would open a dialog that this late
  // event then closed. Only the first of them counts.
  const closed = useRef(false);
  function finish() {
    if (closed.current) return;
    closed.current = true;
    const back = opener.current;
    onClose();
    // After React has removed the dialog (and re-rendered the page that opened it): while a modal dialog is open the
    // page behind it is inert and refuses the focus, so wait (a few frames at most) until it is gone.
    const d = dialog.current;
    const restore = (frames: number) => {
      if (d?.isConnected && d.open && frames > 0) requestAnimationFrame(() => restore(frames - 1));
      else if (back?.isConnected) back.focus();
    };
    if (back) setTimeout(() => restore(30));
  }
  function closeNow() {
    dialog.current?.close();
    finish();
  }
  const dialogProps = {
    ref: (d: HTMLDialogElement | null) => {
      dialog.current = d;
      if (d && !d.open) {
        if (document.activeElement instanceof HTMLElement) opener.current = document.activeElement;
        d.showModal();
      }
    },
    onKeyDown: (e: KeyboardEvent<HTMLDialogElement>) => {
      if (e.key === 'Tab' && dialog.current) trapTab(dialog.current, e);
    },
    onCancel: finish,
    // A late `close` of a dialog opened again meanwhile (the same element, shown again by the ref above) is stale.
    onClose: (e: SyntheticEvent<HTMLDialogElement>) => {
      if (!e.currentTarget.open) finish();
    },
  };
  return { dialogProps, closeNow };
}
