// Runs skopeo, the reference peer, against a test registry: `inspect --raw` returns the manifest bytes exactly as
// the registry serves them, so tests can compare digests with ours.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Creds } from './registry-session.ts';

const run = promisify(execFile);

/** `ref` is `HOST/repo:tag` or `HOST/repo@sha256:...`. */
export async function skopeoInspectRaw(ref: string, creds?: Creds): Promise<Buffer> {
  const args = ['inspect', '--raw', '--tls-verify=false', '--retry-times=0'];
  if (creds !== undefined) args.push('--creds', `${creds.username}:${creds.password}`);
  else args.push('--no-creds');
  args.push(`docker://${ref}`);
  try {
    const { stdout } = await run('skopeo', args, { encoding: 'buffer', timeout: 20_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString('utf8') ?? '';
    const message = `skopeo inspect --raw docker://${ref} failed: ${(err as Error).message}\n${stderr}`;
    throw new Error(message, { cause: err });
  }
}
