/**
 * How hoist reaches a Git repository, decided before git runs: the URL read strictly (file://, http(s):// with an
 * optional token, ssh:// with an optional private key), the host resolved once through the outbound policy's guarded
 * lookup and that address pinned for git (`http.curloptResolve`, or ssh's `HostName`), so DNS cannot send git
 * somewhere the policy refuses between the check and the connection; redirects are not followed, and only the URL's
 * own transport is allowed (no `ext::`). The credential travels as configuration in git's environment (an
 * Authorization header) or as a key file in a private temporary directory, removed afterwards.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { outboundGuard, type Resolver } from '../net/guarded-lookup.ts';
import { bareHost, OutboundRefused, type OutboundPolicy } from '../net/outbound-policy.ts';
import type { GitConfig } from './git.ts';

export interface RemoteInput {
  url: string;
  username?: string | null;
  /** A token (http/https) or an SSH private key (ssh). */
  secret?: string | null;
  /** ssh: known_hosts lines for the server; none: the key is accepted on first use (and not kept). */
  knownHosts?: string | null;
}

/** A remote ready for git: the URL to give it, and the configuration and environment that go with it. */
export interface Remote {
  url: string;
  config: GitConfig;
  env: Record<string, string>;
  secrets: string[];
  close(): Promise<void>;
}

export type UrlCheck =
  { ok: true; url: URL; scheme: 'file' | 'http' | 'https' | 'ssh' } | { ok: false; message: string };

/** Reads a Git URL (what a git target may name): file, http(s) or ssh, no credentials in it. */
export function checkGitUrl(raw: string, policy: OutboundPolicy): UrlCheck {
  if (/^[\w.-]+@[\w.-]+:(?!\/\/)/.test(raw))
    return { ok: false, message: `write the ssh address as a URL: ssh://${raw.replace(':', '/')}` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: `"${raw.slice(0, 200)}" is not a URL (file://, http(s):// or ssh://)` };
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'file' && scheme !== 'http' && scheme !== 'https' && scheme !== 'ssh')
    return { ok: false, message: `use a file://, http(s):// or ssh:// URL, not ${url.protocol}` };
  if (url.password !== '' || (scheme !== 'ssh' && url.username !== ''))
    return { ok: false, message: 'a URL must not carry credentials; give the token or key separately (it is sealed)' };
  if (scheme === 'file') {
    if (url.host !== '') return { ok: false, message: 'a file URL names a local path: file:///srv/git/repo.git' };
    return { ok: true, url, scheme };
  }
  if (url.port === '0') return { ok: false, message: 'a port must be 1–65535' };
  const host = bareHost(url.hostname);
  if (isIP(host) !== 0) {
    const why = policy.refusal(host, 'git');
    if (why !== undefined) return { ok: false, message: why };
  }
  return { ok: true, url, scheme };
}

function resolveGuarded(policy: OutboundPolicy, host: string, resolver?: Resolver): Promise<string> {
  const guard = outboundGuard(policy, 'git', resolver);
  if (isIP(host) !== 0) {
    guard.checkHost(host);
    return Promise.resolve(host);
  }
  return new Promise((resolve, reject) => {
    guard.lookup(host, { all: true }, (err, addresses) => {
      if (err) return reject(err);
      const first = Array.isArray(addresses) ? addresses[0] : undefined;
      if (!first) return reject(new OutboundRefused(`${host} has no address`));
      resolve(first.address);
    });
  });
}

/** Prepares a remote: checks and pins the address, puts the credential where git reads it. */
export async function openRemote(input: RemoteInput, policy: OutboundPolicy, resolver?: Resolver): Promise<Remote> {
  const checked = checkGitUrl(input.url, policy);
  if (!checked.ok) throw new OutboundRefused(checked.message);
  const { url, scheme } = checked;
  const common: Array<[string, string]> = [
    ['http.followRedirects', 'false'],
    ['protocol.allow', 'never'],
    [`protocol.${scheme}.allow`, 'always'],
    ['core.hooksPath', '/dev/null'],
  ];
  const env: Record<string, string> = { GIT_ALLOW_PROTOCOL: scheme };
  const secrets = input.secret ? [input.secret] : [];
  if (scheme === 'file') return { url: url.href, config: common, env, secrets, close: async () => {} };
  const host = bareHost(url.hostname);
  const address = await resolveGuarded(policy, host, resolver);
  if (scheme === 'http' || scheme === 'https') {
    const port = url.port || (scheme === 'https' ? '443' : '80');
    const pinned = isIP(address) === 6 ? `[${address}]` : address;
    const config: Array<[string, string]> = [...common];
    if (isIP(host) === 0) config.push(['http.curloptResolve', `${host}:${port}:${pinned}`]);
    if (input.secret) {
      const basic = Buffer.from(`${input.username ?? 'hoist'}:${input.secret}`).toString('base64');
      config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
      secrets.push(basic);
    }
    return { url: url.href, config, env, secrets, close: async () => {} };
  }
  // ssh: the key and known hosts in a private directory; ssh connects to the checked address, not a new lookup.
  const dir = await mkdtemp(join(tmpdir(), 'hoist-ssh-'));
  await chmod(dir, 0o700);
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, input.knownHosts ?? '', { mode: 0o600 });
  const ssh = [
    'ssh',
    '-F /dev/null',
    '-o BatchMode=yes',
    '-o IdentitiesOnly=yes',
    `-o HostName=${address}`,
    `-o HostKeyAlias=${host}`,
    `-o UserKnownHostsFile=${knownHosts}`,
    `-o StrictHostKeyChecking=${input.knownHosts ? 'yes' : 'accept-new'}`,
  ];
  if (input.secret) {
    const key = join(dir, 'key');
    await writeFile(key, input.secret.endsWith('\n') ? input.secret : `${input.secret}\n`, { mode: 0o600 });
    ssh.push(`-i ${key}`);
  }
  if (input.username && url.username === '') url.username = input.username;
  env.GIT_SSH_COMMAND = ssh.join(' ');
  return {
    url: url.href,
    config: common,
    env,
    secrets,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
