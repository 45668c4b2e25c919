/**
 * Registry credentials: from a `user:pass` flag, or from the `auths` section of docker's config file
 * (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`), the file `docker login` writes. Credential helpers
 * (`credsStore`, `credHelpers`) are not run: hoist never executes programs named in a config file.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidInput } from '../errors.ts';
import { DOCKER_HUB } from './reference.ts';

export interface Credentials {
  username: string;
  /** A password or a token; an identity token is sent as the password, as registries expect. */
  password: string;
}

/** Parses `user:pass` (the password may itself contain ':'). */
export function parseCredentials(s: string, where: string): Credentials {
  const colon = s.indexOf(':');
  if (colon <= 0) throw new InvalidInput('expected USERNAME:PASSWORD', where);
  return { username: s.slice(0, colon), password: s.slice(colon + 1) };
}

function configKeys(host: string): string[] {
  if (host === DOCKER_HUB)
    return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `http://${host}/v1/`];
}

/** Looks `host` up in docker's config file; undefined when the file or the entry is missing. */
export function dockerConfigCredentials(host: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const dir = env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const auths = (
    doc as { auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }> }
  ).auths;
  if (!auths || typeof auths !== 'object') return undefined;
  for (const key of configKeys(host)) {
    const entry = auths[key];
    if (!entry) continue;
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0)
        return { username: decoded.slice(0, colon), password: entry.identitytoken ?? decoded.slice(colon + 1) };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string')
      return { username: entry.username, password: entry.password };
  }
  return undefined;
}
