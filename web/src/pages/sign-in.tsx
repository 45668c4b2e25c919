/**
 * Sign in with the organisation's single sign-on where an admin configured it ("Sign in with <provider>", a full-page
 * trip to the provider and back to the deep link), or with a hoist username and password (local accounts, kept for
 * bootstrap). Errors (wrong password, too many tries, a refused single sign-on) are shown as the server says them.
 */
import { useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, setCsrfToken } from '../api.ts';

interface SsoStatus {
  enabled: boolean;
  displayName: string | null;
  loginUrl: string | null;
}

/** Only same-origin paths are followed after sign-in (never an absolute URL someone put in `next`). */
export function safeNext(raw: string | null): string {
  return raw !== null && raw.startsWith('/') && !raw.startsWith('//') && !raw.startsWith('/sign-in') ? raw : '/';
}

export function SignIn({ onSignedIn }: { onSignedIn: (next: string) => void }) {
  const qc = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const search = new URLSearchParams(window.location.search);
  const next = safeNext(search.get('next'));
  const ssoError = search.get('sso_error');
  // Public: the page asks before anyone is signed in. Without an answer the password form is all there is.
  const sso = useQuery({
    queryKey: ['sso-status'],
    queryFn: () => api<SsoStatus>('GET', '/api/v1/sso/status'),
    staleTime: 60_000,
  });
  const ssoHref =
    sso.data?.enabled && sso.data.loginUrl !== null
      ? `${sso.data.loginUrl}?returnTo=${encodeURIComponent(next)}`
      : undefined;

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ csrfToken: string }>('POST', '/api/v1/login', {
        username: String(form.get('username') ?? ''),
        password: String(form.get('password') ?? ''),
      });
      setCsrfToken(r.csrfToken);
      await qc.invalidateQueries({ queryKey: ['me'] });
      onSignedIn(next);
    } catch (err) {
      setError(
        err instanceof ApiError
          ? err.status === 429
            ? /wait|try again/i.test(err.message)
              ? err.message
              : `${err.message} Wait, then try again.`
            : err.message
          : 'hoist is not answering; check that the server runs.',
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="sign-in">
      <h1>Sign in to hoist</h1>
      {ssoError !== null && (
        <p role="alert" className="error">
          Single sign-on did not work: {ssoError}
        </p>
      )}
      {ssoHref !== undefined && (
        <>
          <p>
            <a className="button-link" href={ssoHref}>
              Sign in with {sso.data?.displayName}
            </a>
          </p>
          <p className="muted">or with a hoist account:</p>
        </>
      )}
      <form onSubmit={(e) => void submit(e)} aria-describedby={error ? 'sign-in-error' : undefined}>
        <label>
          Username
          <input name="username" autoComplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error && (
          <p id="sign-in-error" role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
