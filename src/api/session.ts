/** The browser session cookie and the CSRF header that must accompany its mutating calls. */
export const SESSION_COOKIE = 'hoist_session';
export const CSRF_HEADER = 'x-csrf-token';

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** What a request proves itself with: an API token (`Authorization: Bearer …`), else the session cookie. */
export function credentialsOf(req: {
  headers: { authorization?: string | undefined; cookie?: string | undefined };
}): { token: string } | { session: string } | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return { token: auth.slice(7).trim() };
  const session = cookie(req.headers.cookie, SESSION_COOKIE);
  return session === undefined ? undefined : { session };
}
