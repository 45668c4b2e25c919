/**
 * `hoist serve` as a child process, for the tests that run the real server (serve, data-dir, restart,
 * replicas-fencing, cli-automation, cli-policies): spawn the built CLI, wait up to 90 s for /readyz (a first start
 * on a loaded 2-core machine creates the embedded database), and kill it when giving up, and when the test process
 * exits, so a file never hangs on a server it forgot.
 *
 * `seedDataDir` puts a migrated embedded database into a data directory before its first start: the same dump every
 * store test starts from (npm test's global setup makes it once), unpacked, instead of the server running initdb and
 * every migration in WebAssembly (about 4 s of CPU on this machine). Tests about a first start itself (data-dir)
 * do not seed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../harness/free-port.ts';

export const ENTRY = fileURLToPath(new URL('../../dist/hoist.mjs', import.meta.url));
/** How long a start may take before the test gives up (and kills the server). */
export const READY_TIMEOUT_MS = 90_000;

export interface ServeOptions {
  /** --data-dir (with HOIST_DATABASE_URL in env, only its lock and keys live there). */
  dataDir: string;
  /** Default: a free port. */
  port?: number;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Default: warn. */
  logLevel?: string;
}

export interface Served {
  proc: ChildProcess;
  port: number;
  url: string;
  /** Everything the server wrote, stderr and stdout. */
  output(): string;
  /** The exit code (null when killed by a signal), once it has exited. */
  exit: Promise<number | null>;
  /** SIGTERM, a graceful stop: answers the exit code. */
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of running) {
    proc.kill('SIGCONT'); // a test may have paused it
    proc.kill('SIGKILL');
  }
});

/** Starts `hoist serve` without waiting for it (a second server that must refuse to run, say). */
export async function spawnServe(opts: ServeOptions): Promise<Served> {
  const port = opts.port ?? (await freePort());
  const proc = spawn(
    process.execPath,
    [ENTRY, 'serve', '--port', String(port), '--data-dir', opts.dataDir, '--log-level', opts.logLevel ?? 'warn'],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(proc);
  let output = '';
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      running.delete(proc);
      resolve(code);
    }),
  );
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exit,
    stop: () => {
      proc.kill('SIGTERM');
      return exit;
    },
  };
}

/** Waits until the server answers /readyz; throws if it exits first, or kills it after READY_TIMEOUT_MS. */
export async function ready(served: Served, timeoutMs = READY_TIMEOUT_MS): Promise<Served> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (served.proc.exitCode !== null)
      throw new Error(`hoist serve exited ${served.proc.exitCode}: ${served.output()}`);
    const ok = await fetch(`${served.url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return served;
    if (Date.now() > deadline) {
      served.proc.kill('SIGKILL'); // else it outlives the test and the file never ends
      throw new Error(`hoist serve did not get ready within ${timeoutMs / 1000} s: ${served.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts `hoist serve` and answers once it is ready. */
export async function startServe(opts: ServeOptions): Promise<Served> {
  return ready(await spawnServe(opts));
}

/** Gives a data directory that has no database yet a migrated embedded one (see above). */
export async function seedDataDir(dataDir: string): Promise<void> {
  const db = join(dataDir, 'db');
  await mkdir(db, { recursive: true, mode: 0o700 });
  let tar = process.env.HOIST_TEST_PGLITE_SNAPSHOT;
  if (tar === undefined) {
    // Run on its own: make the dump here (PGlite is loaded only then).
    const { migratedPGlite } = await import('./backends.ts');
    tar = join(dataDir, 'migrated.tar');
    await writeFile(tar, Buffer.from(await (await migratedPGlite()).arrayBuffer()));
  }
  try {
    await promisify(execFile)('tar', ['-xf', tar, '-C', db]);
  } finally {
    if (tar !== process.env.HOIST_TEST_PGLITE_SNAPSHOT) await rm(tar, { force: true });
  }
}
