/**
 * `hoist login --server URL`: signs in with a password once and stores a new API token (not the password) in the
 * CLI's config file, mode 0600.
 */
import { hostname } from 'node:os';
import { ApiError, HoistClient } from '../../api/client.ts';
import { CSRF_HEADER } from '../../api/session.ts';
import { writeConfig } from '../client-config.ts';
import { readSecret } from '../read-secret.ts';

export async function loginCommand(flags: { server: string; username: string; passwordStdin?: boolean }): Promise<void> {
  const server = flags.server.replace(/\/+$/, '');
  const password = await readSecret(`password for ${flags.username} at ${server}: `, flags.passwordStdin ?? false);
  let res: Response;
  try {
    res = await fetch(`${server}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: flags.username, password }) });
  } catch (e) {
    throw new ApiError(0, 'UNREACHABLE', `cannot reach the hoist server at ${server}: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
  }
  const body = (await res.json()) as { csrfToken?: string; error?: { code: string; message: string } };
  if (!res.ok || !body.csrfToken) throw new ApiError(res.status, body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? 'login failed');
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const name = `cli-${hostname()}-${new Date().toISOString().replace(/[:.]/g, '-')}`.slice(0, 64);
  const tokenRes = await fetch(`${server}/api/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, [CSRF_HEADER]: body.csrfToken }, body: JSON.stringify({ name, expiresInDays: 90 }) });
  const token = (await tokenRes.json()) as { token?: string; error?: { code: string; message: string } };
  if (!tokenRes.ok || !token.token) throw new ApiError(tokenRes.status, token.error?.code ?? 'TOKEN', token.error?.message ?? 'could not create a token');
  await fetch(`${server}/api/v1/logout`, { method: 'POST', headers: { cookie, [CSRF_HEADER]: body.csrfToken } }).catch(() => undefined);
  const path = writeConfig({ server, token: token.token });
  const me = await new HoistClient(server, token.token).me();
  process.stderr.write(`signed in to ${server} as ${me.username}; token "${name}" (90 days) stored in ${path}\n`);
}
