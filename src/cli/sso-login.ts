/**
 * `hoist login --sso`: signing in through the server's OpenID provider with the loopback redirect of RFC 8252.
 *
 * Why loopback redirect and not the device flow (RFC 8628): it works with every provider that does the authorization
 * code flow, with the one client and the one redirect URI the server already registered for browsers (the device
 * grant is optional, often off, and would need a second client registration); the server, not the CLI, does the code
 * exchange, so the client secret never leaves it; and there is no user code for a phisher to relay. The cost: the
 * browser must run on the machine where the CLI runs (over SSH, copy the printed URL and forward the port).
 *
 * The CLI listens on 127.0.0.1:random, sends the browser to the server's sign-in with that URL and a PKCE challenge of
 * its own, and receives a one-time code there that only its verifier can trade for an API token.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { Unauthenticated } from '../errors.ts';

export interface SsoLoginOptions {
  /** Try to open the system's browser (else only print the URL). */
  openBrowser: boolean;
  /** How long to wait for the browser to come back. */
  timeoutMs: number;
  /** Where to tell the person what to do (stderr). */
  say: (line: string) => void;
}

const page = (res: ServerResponse, status: number, message: string): void => {
  const text = message.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  res
    .writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    .end(`<!doctype html><meta charset="utf-8"><title>hoist</title><p>${text}</p>`);
};

function openInBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(command, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // The URL is printed anyway.
  }
}

/** Runs the browser part; answers the one-time code and the verifier that goes with it. */
export async function waitForSsoCode(server: string, o: SsoLoginOptions): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  let settle: (r: { code: string } | { error: string }) => void = () => undefined;
  const result = new Promise<{ code: string } | { error: string }>((resolve) => (settle = resolve));
  const listener = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/callback') return page(res, 404, 'Not the sign-in callback.');
    const code = url.searchParams.get('code');
    const error = url.searchParams.get('error');
    if (code !== null) {
      page(res, 200, 'Signed in. You can close this tab and go back to the terminal.');
      settle({ code });
    } else {
      page(res, 400, `Sign-in failed: ${error ?? 'no code'}`);
      settle({ error: error ?? 'the server sent no code' });
    }
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', resolve);
  });
  const port = (listener.address() as { port: number }).port;
  const cli = `http://127.0.0.1:${port}/callback`;
  const url = `${server}/api/v1/sso/login?${new URLSearchParams({ cli, challenge }).toString()}`;
  o.say(`Sign in with your browser at:\n  ${url}\nwaiting for it on ${cli} …`);
  if (o.openBrowser) openInBrowser(url);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ error: string }>((resolve) => {
    timer = setTimeout(() => resolve({ error: `no sign-in within ${Math.round(o.timeoutMs / 1000)} s` }), o.timeoutMs);
  });
  try {
    const r = await Promise.race([result, timeout]);
    if ('error' in r) throw new Unauthenticated(`single sign-on: ${r.error}`);
    return { code: r.code, verifier };
  } finally {
    clearTimeout(timer);
    listener.closeAllConnections();
    listener.close();
  }
}
