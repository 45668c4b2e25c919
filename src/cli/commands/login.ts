/**
 * `hoist login --server URL`: signs in with a password once (or, with `--sso`, through the server's OpenID provider in
 * a browser) and stores a new API token (not the password) in the CLI's config file, mode 0600.
 */
import { hostname } from 'node:os';
import { HoistClient, signInForToken } from '../../client/index.ts';
import { writeConfig } from '../client-config.ts';
import { readSecret } from '../read-secret.ts';
import { waitForSsoCode } from '../sso-login.ts';

export async function loginCommand(flags: {
  server: string;
  username: string;
  passwordStdin?: boolean;
  sso?: boolean;
  browser?: boolean;
}): Promise<void> {
  const server = flags.server.replace(/\/+$/, '');
  const name = `cli-${hostname()}-${new Date().toISOString().replace(/[:.]/g, '-')}`.slice(0, 64);
  let token: string;
  if (flags.sso) {
    const { code, verifier } = await waitForSsoCode(server, {
      openBrowser: flags.browser !== false,
      timeoutMs: 5 * 60_000,
      say: (line) => process.stderr.write(`${line}\n`),
    });
    token = (await new HoistClient(server).sso.cliToken(code, verifier, name)).token;
  } else {
    const password = await readSecret(`password for ${flags.username} at ${server}: `, flags.passwordStdin ?? false);
    token = await signInForToken(server, flags.username, password, name, 90);
  }
  const path = writeConfig({ server, token });
  const me = await new HoistClient(server, token).me();
  process.stderr.write(`signed in to ${server} as ${me.username}; token "${name}" (90 days) stored in ${path}\n`);
}
