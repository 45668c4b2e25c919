/**
 * Where the CLI keeps the server it talks to and its API token: `$XDG_CONFIG_HOME/hoist/config.json` (default
 * `~/.config/hoist/config.json`), written with mode 0600. HOIST_SERVER and HOIST_TOKEN override it (for CI).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { HoistClient } from '../client/index.ts';
import { InvalidInput } from '../errors.ts';

export interface ClientConfig {
  server: string;
  token: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'hoist', 'config.json');
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Partial<ClientConfig> {
  try {
    return JSON.parse(readFileSync(configPath(env), 'utf8')) as Partial<ClientConfig>;
  } catch {
    return {};
  }
}

export function writeConfig(c: ClientConfig, env: NodeJS.ProcessEnv = process.env): string {
  const path = configPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export function client(env: NodeJS.ProcessEnv = process.env): HoistClient {
  const c = readConfig(env);
  const server = env.HOIST_SERVER ?? c.server;
  const token = env.HOIST_TOKEN ?? c.token;
  if (!server || !token)
    throw new InvalidInput(
      'not signed in: run hoist login --server URL (or set HOIST_SERVER and HOIST_TOKEN)',
      'server',
    );
  return new HoistClient(server, token);
}
