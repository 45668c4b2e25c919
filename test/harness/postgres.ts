// A real PostgreSQL for store tests: initdb into a temporary directory, `postgres` on a random loopback port (as the
// `postgres` user when we are root, tied to the test process with setpriv --pdeathsig so it dies with it), tuned for
// speed (no fsync). One server per test process is shared; each suite creates its own database.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { trackDirectory, trackProcess, untrackDirectory, untrackProcess } from './cleanup.ts';
import { freePort } from './free-port.ts';

export interface TestPostgres {
  port: number;
  /** Admin connection URL: postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  /** Creates a fresh empty database (random name unless given) and returns its connection URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

function binDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install postgresql');
  return join(base, newest, 'bin');
}

function asPostgres(command: string, args: string[]): [string, string[]] {
  const root = process.getuid?.() === 0;
  return root ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--pdeathsig', 'KILL', '--', command, ...args]] : ['setpriv', ['--pdeathsig', 'KILL', '--', command, ...args]];
}

async function waitReady(url: string, proc: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`postgres exited (${proc.exitCode}):\n${tail(logPath)}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 15 s:\n${tail(logPath)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-3000);
  } catch {
    return '(no log)';
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'hoist-postgres-'));
  trackDirectory(dir);
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const logPath = join(dir, 'postgres.log');
  if (process.getuid?.() === 0) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
  const [initCmd, initArgs] = asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  execFileSync(initCmd, initArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const [cmd, args] = asPostgres(join(bin, 'postgres'), [
      '-D', data, '-p', String(port), '-k', dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200',
    ]);
    // The log goes to a file, and the child is unref'd: a test process ends when its tests do (the cleanup hook and
    // the death signal then stop the server).
    const logFd = openSync(logPath, 'w');
    const proc = spawn(cmd, args, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    proc.unref();
    if (proc.pid !== undefined) trackProcess(proc.pid);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitReady(url, proc, logPath);
    } catch (e) {
      proc.kill('SIGKILL');
      if (attempt < 4 && /could not bind|already in use/i.test(tail(logPath))) continue;
      throw e;
    }
    let stopping: Promise<void> | undefined;
    return {
      port,
      url,
      async createDatabase(name = `hoist_${randomBytes(6).toString('hex')}`) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE "${name}"`);
        } finally {
          await client.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      stop: () =>
        (stopping ??= new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            if (proc.pid !== undefined) untrackProcess(proc.pid);
            rmSync(dir, { recursive: true, force: true });
            untrackDirectory(dir);
            resolve();
          };
          const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
          if (proc.exitCode !== null) return done();
          proc.once('exit', done);
          proc.kill('SIGINT');
        })),
    };
  }
}

let shared: Promise<TestPostgres> | undefined;
/** One server per test process, started on first call; the cleanup hooks stop it when the process exits. */
export function sharedPostgres(): Promise<TestPostgres> {
  shared ??= startPostgres();
  return shared;
}
