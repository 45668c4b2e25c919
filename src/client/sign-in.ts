/**
 * Signing in with a password and trading the browser session for a named API token (then ending the session): how
 * the CLI logs in without ever storing the password.
 */
import { HoistClient } from './hoist-client.ts';

export async function signInForToken(
  server: string,
  username: string,
  password: string,
  tokenName: string,
  expiresInDays: number,
): Promise<string> {
  let cookie = '';
  // The session cookie travels by hand: Node's fetch keeps no cookie jar.
  const withCookie = async (request: Request): Promise<Response> => {
    if (cookie) request.headers.set('cookie', cookie);
    const response = await fetch(request);
    const set = response.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0] ?? '';
    return response;
  };
  const session = await new HoistClient(server, undefined, { fetch: withCookie }).login(username, password);
  const signedIn = new HoistClient(server, undefined, { fetch: withCookie, csrfToken: session.csrfToken });
  try {
    return (await signedIn.tokens.create(tokenName, expiresInDays)).token;
  } finally {
    await signedIn.call(signedIn.api.POST('/api/v1/logout')).catch(() => undefined);
  }
}
