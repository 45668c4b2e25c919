/** The browser session cookie and the CSRF header that must accompany its mutating calls. */
export const SESSION_COOKIE = 'hoist_session';
export const CSRF_HEADER = 'x-csrf-token';

/**
 * The value of cookie `name`, percent-decoded; a value that does not decode (`%`, `%E0%A4%A`) is no value: anyone can
 * send one, and it was a 500 (URIError) on every route before the caller was even identified.
 */
function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      return undefined;
    }
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

/** The value of the cookie `name` in a Cookie header, if present. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  return cookie(header, name);
}

/** The Set-Cookie header that starts a browser session (password or SSO sign-in alike). */
export function sessionCookie(secret: string, expiresAt: Date, secure: boolean): string {
  // secure: the request came over TLS, or through a proxy that says so when the server trusts proxies (--trust-proxy).
  return `${SESSION_COOKIE}=${secret}; HttpOnly; SameSite=Strict; Path=/; Expires=${expiresAt.toUTCString()}${
    secure ? '; Secure' : ''
  }`;
}
