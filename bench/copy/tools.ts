/**
 * Running the two tools being compared as a user would: a fresh process per copy. hoist runs from its bundle,
 * skopeo with `--all --preserve-digests`; both talk plain HTTP to the local registries. Each run answers its wall
 * time; a non-zero exit stops the benchmark with the tool's own error.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `bin/hoist` laid out as the installed package has it: bin/, dist/ and node_modules/ side by side and no src/ (the
 * package ships none). In a source checkout the script also looks for sources newer than the bundle (a `find`, ~5 ms
 * a package's user never runs); the benchmark runs what a user runs. dist/ and node_modules/ are this checkout's
 * (`npm run bench:copy` and `bench:far` build first).
 */
function installedHoist(): string {
  const root = mkdtempSync(join(tmpdir(), 'hoist-bench-package-'));
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'hoist'), join(root, 'bin', 'hoist'));
  symlinkSync(join(ROOT, 'dist'), join(root, 'dist'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  return join(root, 'bin', 'hoist');
}

let installed: string | undefined;
export const SKOPEO_CACHE = '/var/lib/containers/cache/blob-info-cache-v1.boltdb';

export interface Run {
  ms: number;
  stdout: string;
  stderr: string;
  /** Peak resident memory in KiB, when measured. */
  maxRssKiB?: number;
}

/**
 * hoist runs as a user runs it: `bin/hoist`, a whole process, with the environment as it is. This machine sets
 * NODE_EXTRA_CA_CERTS (a 220 KB CA bundle), which some Node versions parse at start before any of hoist's code runs;
 * `withoutCaFile` drops it, for the second figure the benchmark prints.
 */
function hoistEnv(withoutCaFile: boolean): NodeJS.ProcessEnv {
  if (!withoutCaFile) return process.env;
  const { NODE_EXTRA_CA_CERTS: _dropped, ...env } = process.env;
  return env;
}

function run(
  command: string,
  args: string[],
  measureMemory: boolean,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Run> {
  const [cmd, argv] = measureMemory ? ['/usr/bin/time', ['-f', 'MAXRSS %M', command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${stderr}`));
        return;
      }
      const rss = /MAXRSS (\d+)/.exec(stderr);
      resolve({ ms, stdout, stderr, ...(rss ? { maxRssKiB: Number(rss[1]) } : {}) });
    });
  });
}

export function hoistCopy(
  src: string,
  dst: string,
  insecure: string[],
  extra: string[] = [],
  opts: { measureMemory?: boolean; withoutCaFile?: boolean } = {},
): Promise<Run> {
  const flags = insecure.flatMap((h) => ['--insecure-registry', h]);
  installed ??= installedHoist();
  return run(
    installed,
    ['copy', '-q', '--json', ...flags, ...extra, src, dst],
    opts.measureMemory ?? false,
    hoistEnv(opts.withoutCaFile ?? false),
  );
}

export function skopeoCopy(
  src: string,
  dst: string,
  opts: { coldCache: boolean; measureMemory?: boolean },
): Promise<Run> {
  if (opts.coldCache) rmSync(SKOPEO_CACHE, { force: true });
  const args = [
    'copy',
    '-q',
    '--all',
    '--preserve-digests',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    `docker://${src}`,
    `docker://${dst}`,
  ];
  return run('skopeo', args, opts.measureMemory ?? false);
}

export async function version(command: string, args: string[]): Promise<string> {
  return (await run(command, args, false)).stdout.trim();
}
