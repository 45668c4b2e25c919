// The PostgreSQL harness: databases are separate, stop() leaves nothing behind (directory, processes, shared memory),
// and neither does a test process that exits without stopping its server or is killed outright.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import pg from 'pg';
import { sharedPostgres } from './postgres.ts';

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** What a running server leaves around: its temporary directory, postmaster pid and System V segment id. */
function traces(dir: string): { pid: number; shmid: string } {
  const lines = readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n');
  return { pid: Number(lines[0]), shmid: (lines[6] ?? '').trim().split(/\s+/)[1] ?? '' };
}

function processAlive(pid: number): boolean {
  try {
    // A zombie is dead for our purposes: it holds no memory and is only waiting for its parent to reap it.
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function segmentExists(shmid: string): boolean {
  return readFileSync('/proc/sysvipc/shm', 'utf8')
    .split('\n')
    .slice(1)
    .some((line) => line.trim().split(/\s+/)[1] === shmid);
}

/** Waits (up to 5 s) until the server's processes and shared memory are gone. */
async function assertGone(where: string, t: { pid: number; shmid: string }): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((processAlive(t.pid) || segmentExists(t.shmid)) && Date.now() < deadline) await sleep(50);
  assert.equal(processAlive(t.pid), false, `${where}: postmaster ${t.pid} still running`);
  assert.equal(segmentExists(t.shmid), false, `${where}: shared memory segment ${t.shmid} left behind`);
}

test('shared server: separate databases, and stop() removes everything', async () => {
  const server = await sharedPostgres();
  assert.equal(await sharedPostgres(), server, 'one server per process');
  assert.equal(server.url, `postgres://postgres@127.0.0.1:${server.port}/postgres`);

  const first = await server.createDatabase();
  const second = await server.createDatabase('hoist "named" db');
  assert.match(second, /\/hoist%20%22named%22%20db$/);

  const rows = await withClient(first, async (c) => {
    await c.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
    await c.query("INSERT INTO notes VALUES (1, 'héllo'), (2, 'world')");
    return (await c.query<{ id: number; body: string }>('SELECT id, body FROM notes ORDER BY id')).rows;
  });
  assert.deepEqual(rows, [
    { id: 1, body: 'héllo' },
    { id: 2, body: 'world' },
  ]);
  const other = await withClient(second, async (c) => ({
    name: (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db,
    tables: (await c.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'")).rowCount,
  }));
  assert.deepEqual(other, { name: 'hoist "named" db', tables: 0 });

  const dataDir = await withClient(
    server.url,
    async (c) => (await c.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory,
  );
  assert.ok(dataDir !== undefined);
  const dir = dirname(dataDir);
  const running = traces(dir);
  assert.ok(processAlive(running.pid));

  await server.stop();
  assert.equal(existsSync(dir), false, `${dir} still exists after stop()`);
  await assertGone('after stop()', running);
  await assert.rejects(
    withClient(server.url, async () => {}),
    /ECONNREFUSED/,
  );
});

/** Starts a server in a separate test process, which prints its directory and then exits (when told) or is killed. */
async function serverInChild(ending: 'exit' | 'kill'): Promise<void> {
  const script = `
    import pg from 'pg';
    import { sharedPostgres } from ${JSON.stringify(new URL('./postgres.ts', import.meta.url).href)};
    const client = new pg.Client({ connectionString: (await sharedPostgres()).url });
    await client.connect();
    const { rows } = await client.query("SELECT current_setting('data_directory') AS d");
    await client.end();
    process.stdout.write(rows[0].d + '\\n');
    process.stdin.once('data', () => process.exit(0)); // exits without stop(): the exit hooks must clean up
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    // Generous, as for hoist serve: on a loaded 2-core machine, loading tsx and an initdb can take a minute.
    const deadline = Date.now() + 90_000;
    while (!stdout.includes('\n') && child.exitCode === null && Date.now() < deadline) await sleep(20);
    assert.ok(stdout.includes('\n'), `child started no server (exit ${child.exitCode}):\n${stderr}`);
    const dir = dirname(stdout.trim());
    const running = traces(dir);
    assert.ok(processAlive(running.pid));
    if (ending === 'kill') child.kill('SIGKILL');
    else child.stdin.write('exit\n');
    await exited;
    await assertGone(`test process ${ending}`, running);
    if (ending === 'exit') {
      assert.equal(child.exitCode, 0, stderr);
      assert.equal(existsSync(dir), false, `${dir} still exists after the test process exited`);
    } else {
      // Killed outright, the test process could not clean up; its directory names it, for a later run's sweep.
      assert.equal(readFileSync(join(dir, 'owner.pid'), 'utf8'), String(child.pid));
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    child.kill('SIGKILL');
  }
}

test('a test process that exits without stop(), or is killed, leaves no server or shared memory', async () => {
  await Promise.all([serverInChild('exit'), serverInChild('kill')]);
});
