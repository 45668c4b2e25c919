// A real PostgreSQL for store tests: initdb into a fresh temporary directory, then `postgres` itself (not pg_ctl, so
// the server is our direct child) on a random loopback port, tuned for speed (no fsync) and started under
// `setpriv --pdeathsig KILL` so it dies with the test process even when that is SIGKILLed. As root, initdb and the
// server run as the `postgres` user, which owns the directory. One server per test process is shared
// (`sharedPostgres`); each suite creates its own database.
//
// Nothing may outlive the test process. A postmaster that is killed rather than shut down leaves its System V
// interlock segment behind (the kernel allows only `kernel.shmmni`, 4096 by default, after which no server starts),
// and with the default POSIX dynamic shared memory it leaves files in /dev/shm. So dynamic shared memory lives in the
// data directory (`dynamic_shared_memory_type=mmap`), and the System V segment is marked for removal as soon as the
// server is up: Linux keeps it while the server's processes stay attached and frees it when the last one exits, however
// that happens. `stop()` is a fast shutdown (SIGINT, SIGKILL after 3 s); at exit, cleanup.ts kills what is left.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { sweepStaleDirectories, trackDirectory, trackProcess, untrackDirectory, untrackProcess } from './cleanup.ts';
import { freePort } from './free-port.ts';
import { logTail } from './registry-process.ts';

export interface TestPostgres {
  port: number;
  /** Admin connection URL: postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  /** Creates a fresh empty database (random name unless given) and returns its connection URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

const POSTGRESQL_ROOT = '/usr/lib/postgresql';
const SETPRIV = '/usr/bin/setpriv';
const DIR_PREFIX = 'hoist-postgres-';
const PORT_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3000;

const execFileAsync = promisify(execFile);

/** The newest installed server's bin directory, e.g. /usr/lib/postgresql/15/bin. */
function binDir(): string {
  const versions = existsSync(POSTGRESQL_ROOT)
    ? readdirSync(POSTGRESQL_ROOT).filter((v) => existsSync(join(POSTGRESQL_ROOT, v, 'bin', 'initdb')))
    : [];
  const newest = versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))[0];
  if (newest === undefined) {
    throw new Error(
      `postgres: no PostgreSQL server binaries under ${POSTGRESQL_ROOT}/*/bin: ` +
        'apt-get install postgresql (or run scripts/setup.sh)',
    );
  }
  return join(POSTGRESQL_ROOT, newest, 'bin');
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Who initdb and postgres run as: the `postgres` user when we are root (postgres refuses to run as root), else us. */
function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  const uid = Number(entry?.[2]);
  const gid = Number(entry?.[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(
      'postgres: running as root but there is no `postgres` user to run the server as: apt-get install postgresql',
    );
  }
  return { uid, gid };
}

/** The command line that runs `command` as `user` (when given), dying with the test process where setpriv exists. */
function commandLine(user: RunAs | undefined, command: string, args: string[]): [string, string[]] {
  if (!existsSync(SETPRIV)) {
    if (user !== undefined) return ['runuser', ['-u', 'postgres', '--', command, ...args]];
    return [command, args];
  }
  const identity = user === undefined ? [] : ['--reuid=postgres', '--regid=postgres', '--init-groups'];
  return [SETPRIV, [...identity, '--pdeathsig', 'KILL', '--', command, ...args]];
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir();
  const user = runAs();
  sweepStaleDirectories(tmpdir(), DIR_PREFIX);
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  trackDirectory(dir);
  const removeDir = async (): Promise<void> => {
    // A killed server's processes can still be exiting: retry the few races with files they remove themselves.
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    untrackDirectory(dir);
  };
  try {
    if (user !== undefined) {
      // mkdtemp made it 0700 and ours: the server's user must own it to create the data directory and its socket.
      await chown(dir, user.uid, user.gid);
    }
    const dataDir = join(dir, 'data');
    await initdb(bin, user, dataDir, dir);
    const server = await launchOnFreePort(bin, user, dataDir, dir);
    let stopping: Promise<void> | undefined;
    return {
      port: server.port,
      url: server.url,
      createDatabase: (name) => createDatabase(server.url, server.port, name),
      stop: () => (stopping ??= server.stop().then(removeDir)),
    };
  } catch (err) {
    await removeDir();
    throw err;
  }
}

async function initdb(bin: string, user: RunAs | undefined, dataDir: string, dir: string): Promise<void> {
  const [command, args] = commandLine(user, join(bin, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  try {
    await execFileAsync(command, args, { cwd: dir, timeout: 60_000 });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`postgres: initdb failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`.trimEnd());
  }
}

class PortInUse extends Error {}

interface Server {
  port: number;
  url: string;
  stop(): Promise<void>;
}

async function launchOnFreePort(bin: string, user: RunAs | undefined, dataDir: string, dir: string): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(bin, user, dataDir, dir, port);
    } catch (err) {
      if (!(err instanceof PortInUse) || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

async function launch(
  bin: string,
  user: RunAs | undefined,
  dataDir: string,
  dir: string,
  port: number,
): Promise<Server> {
  const logPath = join(dir, 'postgres.log');
  const [command, args] = commandLine(user, join(bin, 'postgres'), [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
    '-c',
    'dynamic_shared_memory_type=mmap',
    // The benchmarks count statements with pg_stat_statements (bench/replicas): HOIST_POSTGRES_PRELOAD names it.
    ...(process.env.HOIST_POSTGRES_PRELOAD
      ? ['-c', `shared_preload_libraries=${process.env.HOIST_POSTGRES_PRELOAD}`]
      : []),
  ]);
  const logFd = openSync(logPath, 'w'); // fresh per attempt, so an old failure is not read as this one's
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd: dir, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  // A test process ends when its tests do, with the shared server still running; the exit hook then kills it.
  child.unref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  if (child.pid !== undefined) trackProcess(child.pid);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;

  const stop = async (): Promise<void> => {
    if (running()) {
      child.kill('SIGINT'); // fast shutdown: roll back sessions, checkpoint, exit
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    if (child.pid !== undefined) untrackProcess(child.pid);
  };

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError !== undefined) {
      await stop();
      throw new Error(`postgres: cannot start ${command}: ${spawnError.message}`);
    }
    if (!running()) {
      if (child.pid !== undefined) untrackProcess(child.pid);
      const tail = await logTail(logPath);
      if (/could not bind|address already in use/i.test(tail)) throw new PortInUse(`port ${port} is taken`);
      throw new Error(
        `postgres: server exited (${child.exitCode ?? child.signalCode}) before it was ready; log:\n${tail}`,
      );
    }
    if (await accepts(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `postgres: not accepting connections on 127.0.0.1:${port} after ${READY_TIMEOUT_MS / 1000} s; log:\n` +
          (await logTail(logPath)),
      );
    }
    await sleep(50);
  }
  await releaseInterlockSegment(dataDir);
  return { port, url, stop };
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => {}); // a server going away mid-probe must not become an uncaught 'error' event
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Marks the server's System V interlock segment for removal (see the top of the file). Its id is on line 7 of
 * postmaster.pid ("KEY SHMID"). Best effort: when it fails the segment merely outlives a killed server.
 */
async function releaseInterlockSegment(dataDir: string): Promise<void> {
  try {
    const line = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[6] ?? '';
    const shmid = line.trim().split(/\s+/)[1];
    if (shmid !== undefined && /^\d+$/.test(shmid)) await execFileAsync('ipcrm', ['-m', shmid]);
  } catch {
    // no ipcrm, or an unexpected postmaster.pid: leave the segment to the server's own shutdown
  }
}

async function createDatabase(adminUrl: string, port: number, name?: string): Promise<string> {
  const database = name ?? `hoist_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
  return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

let shared: Promise<TestPostgres> | undefined;

/** One server per test process, started on first call, stopped when the process exits (or via the returned stop). */
export function sharedPostgres(): Promise<TestPostgres> {
  if (shared === undefined) {
    const starting: Promise<TestPostgres> = startPostgres().then((server) => ({
      ...server,
      stop: async () => {
        if (shared === starting) shared = undefined; // the next caller gets a new server
        await server.stop();
      },
    }));
    shared = starting;
  }
  return shared;
}
