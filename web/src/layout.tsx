/** The frame of every signed-in screen: navigation (with the approvals badge), who is signed in, sign out. */
import type { ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { useLiveEvents } from './live.ts';
import { useSignedIn, useSignOut } from './session.tsx';

const NAV: Array<{ href: string; label: string; admin?: boolean }> = [
  { href: '/approvals', label: 'My approvals' },
  { href: '/projects', label: 'Projects' },
  { href: '/policies', label: 'Policies' },
  { href: '/tokens', label: 'Tokens' },
  { href: '/audit', label: 'Audit', admin: true },
  { href: '/admin', label: 'Administration' },
];

export function Layout({ children }: { children: ReactNode }) {
  const me = useSignedIn();
  const signOut = useSignOut();
  // Signed in: server changes arrive on the event stream (pages poll only while it is down).
  useLiveEvents();
  const [location, navigate] = useLocation();
  const waiting = me.badges?.approvalsWaiting ?? me.counts?.approvalsWaiting ?? 0;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <header className="top">
        <a className="brand" href="/projects">
          hoist
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => !n.admin || me.isAdmin).map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={location.startsWith(n.href) ? 'page' : undefined}>
                  {n.label}
                  {n.href === '/approvals' && waiting > 0 && (
                    <span className="badge" aria-label={`: ${waiting} waiting for you`}>
                      {waiting}
                    </span>
                  )}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          {waiting > 0 && (
            <span className="badge" aria-label={`${waiting} approvals waiting for you`}>
              {waiting}
            </span>
          )}
          <span>
            {me.username}
            {me.isAdmin ? ' (admin)' : ''}
          </span>
          <button type="button" onClick={() => void signOut().then(() => navigate('/sign-in', { replace: true }))}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
