/**
 * One click handler for a region full of plain `<a href>` links (a board has hundreds): a plain left click on a
 * same-origin link navigates inside the app, as wouter's <Link> does, without a <Link> (a router subscription and
 * its hooks) per link. Ctrl/⌘/Shift/Alt-clicks, middle clicks and links with a target keep the browser's behaviour.
 */
import { useCallback, type MouseEvent } from 'react';
import { useLocation } from 'wouter';

export function useFollowLinks(): (e: MouseEvent<HTMLElement>) => void {
  const [, navigate] = useLocation();
  return useCallback(
    (e: MouseEvent<HTMLElement>) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = e.target instanceof Element ? e.target.closest('a') : null;
      if (a === null || a.target !== '' || a.hasAttribute('download') || a.origin !== window.location.origin) return;
      e.preventDefault();
      navigate(a.pathname + a.search + a.hash);
    },
    [navigate],
  );
}
