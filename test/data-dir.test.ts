/**
 * The data directory as two real `hoist serve` processes see it: the second server on one embedded database exits
 * naming the first one's pid, every file there is private to its owner, a lock left by a killed server is taken over,
 * and the audit checkpoint kept there survives restarts: rows deleted while the server was down are caught by
 * `hoist audit verify`, with the stored checkpoint and with the copy an auditor kept (`--checkpoint FILE`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { freePort } from './harness/free-port.ts';
import { runCli, runCliWithStdin } from './helpers/run-cli.ts';
import { ready, spawnServe, type Served } from './helpers/serve.ts';
import { openDatabase } from '../src/store/database.ts';

let dir: string;
let env: Record<string, string>;
const running = new Set<Served>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-datadir-'));
  env = { XDG_CONFIG_HOME: join(dir, 'config'), HOIST_ADMIN_PASSWORD: 'data-dir-password' };
});
after(async () => {
  for (const s of running) s.proc.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

// No seeded database here: the first start creating the embedded database is what the first test is about.
async function serve(port: number): Promise<Served & { stderr: () => string }> {
  const s = await spawnServe({ dataDir: join(dir, 'data'), port, env, logLevel: 'info' });
  running.add(s);
  void s.exit.then(() => running.delete(s));
  return { ...s, stderr: s.output };
}

function files(path: string): string[] {
  return readdirSync(path, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [join(path, e.name), ...files(join(path, e.name))] : [join(path, e.name)],
  );
}

test('one server per data directory; its files are private; a dead holder is taken over', async () => {
  const port = await freePort();
  const first = await serve(port);
  await ready(first);

  const second = await serve(await freePort());
  const code = await second.exit;
  assert.notEqual(code, 0, 'the second server must not run');
  assert.match(second.stderr(), new RegExp(`in use by another hoist \\(pid ${first.proc.pid}\\)`));
  assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, 'the first one is unharmed');

  const all = [join(dir, 'data'), ...files(join(dir, 'data'))];
  assert.ok(all.length > 100, `the embedded database is there (${all.length} entries)`);
  const open = all.filter((f) => (statSync(f).mode & 0o077) !== 0);
  assert.deepEqual(open, [], 'nothing in the data directory is readable by other users');
  assert.ok(existsSync(join(dir, 'data', 'audit-checkpoint.json')), 'a checkpoint is signed at start');

  first.proc.kill('SIGKILL');
  await first.exit;
  assert.ok(existsSync(join(dir, 'data', 'hoist.lock')), 'a killed server leaves its lock behind');
  const third = await serve(port);
  await ready(third);
  third.proc.kill('SIGTERM');
  assert.equal(await third.exit, 0);
  assert.equal(existsSync(join(dir, 'data', 'hoist.lock')), false, 'a clean stop releases the lock');
});

test('rows deleted while the server was down are caught by hoist audit verify, stored and given checkpoints alike', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const s = await serve(port);
  await ready(s);
  const login = await runCliWithStdin(['login', '--server', url, '--password-stdin'], 'data-dir-password\n', env);
  assert.equal(login.code, 0, login.stderr);
  for (const name of ['alpha', 'beta', 'gamma']) {
    const r = await runCli(['project', 'create', name], env);
    assert.equal(r.code, 0, r.stderr);
  }
  s.proc.kill('SIGTERM');
  assert.equal(await s.exit, 0);
  assert.match(s.stderr(), /"msg":"audit checkpoint"/, 'the checkpoint is in the log too');

  // An auditor's copy, taken through the API after the restart.
  const again = await serve(port);
  await ready(again);
  const copy = await runCli(['audit', 'checkpoint'], env);
  assert.equal(copy.code, 0, copy.stderr);
  const auditorsCopy = join(dir, 'auditors-copy.json');
  writeFileSync(auditorsCopy, copy.stdout);
  const intact = await runCli(['audit', 'verify', '--checkpoint', auditorsCopy, '-o', 'table'], env);
  assert.equal(intact.code, 0, intact.stdout + intact.stderr);
  assert.match(intact.stdout, /contains row \d+ as the given checkpoint/);
  again.proc.kill('SIGTERM');
  assert.equal(await again.exit, 0);

  // Someone with the database deletes the newest rows while hoist is down.
  const db = await openDatabase({ dataDir: join(dir, 'data', 'db') });
  await sql`DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log)`.execute(db.db);
  await db.close();

  const after = await serve(port);
  await ready(after);
  const stored = await runCli(['audit', 'verify', '-o', 'table'], env);
  assert.equal(stored.code, 1);
  assert.match(stored.stdout, /AUDIT CHAIN BROKEN at row \d+ \(truncated\)/);
  const given = await runCli(['audit', 'verify', '--checkpoint', auditorsCopy, '-o', 'table'], env);
  assert.equal(given.code, 1);
  assert.match(given.stdout, /\(truncated\): the chain ends at row \d+ but a checkpoint names row/);
  assert.match(after.stderr(), /not signing a new checkpoint/);
  after.proc.kill('SIGTERM');
  assert.equal(await after.exit, 0);
});
