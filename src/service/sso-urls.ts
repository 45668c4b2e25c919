/**
 * Where a sign-in may send a browser: after it, only a path on this server (an open redirect is how phishing borrows
 * a trusted name); for `hoist login --sso`, only the CLI's own loopback URL (RFC 8252 §7.3).
 */
import { InvalidInput } from '../errors.ts';

/** Only a same-origin path may follow a sign-in: never another origin, `//host`, `/\host` or a control character. */
export function safeReturnTo(raw: string | undefined): string {
  if (raw === undefined || raw === '') return '/';
  const base = 'http://hoist.invalid';
  let url: URL | undefined;
  try {
    url = new URL(raw, base);
  } catch {
    url = undefined;
  }
  if (
    !raw.startsWith('/') ||
    raw.startsWith('//') ||
    [...raw].some((c) => c === '\\' || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f) ||
    raw.length > 2048 ||
    url?.origin !== base
  )
    throw new InvalidInput('only a path on this server (starting with a single "/") may follow a sign-in', 'returnTo');
  return raw;
}

/** The CLI's loopback URL (RFC 8252 §7.3): http, a loopback address literal, an explicit port. */
export function checkCliRedirect(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidInput('not a URL', 'cli');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.protocol !== 'http:' || !(host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)) || url.port === '')
    throw new InvalidInput('the CLI listens on http://127.0.0.1:PORT/ (or [::1]) only', 'cli');
  if (url.username !== '' || url.password !== '' || url.hash !== '') throw new InvalidInput('a plain URL', 'cli');
  return url.href;
}
