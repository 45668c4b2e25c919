/**
 * Replicas that start together on one fresh PostgreSQL (a rollout, a cluster restart) migrate it once: the whole
 * migration runs under hoist's advisory lock, so each migration is applied by exactly one replica and the others
 * find the finished schema. A migration waits while another session holds the lock, and carries on when it goes.
 * PostgreSQL only: the embedded database belongs to one process (its data directory is locked).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrate, MIGRATION_LOCK_KEY, MIGRATIONS } from '../../src/store/migrate.ts';
import { sharedPostgres } from '../harness/postgres.ts';

const opened: Database[] = [];
let adminUrl: string;

/** A new empty database (not the migrated template every other test copies). */
async function emptyDatabase(): Promise<string> {
  const name = `hoist_empty_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return adminUrl.replace(/\/postgres$/, `/${name}`);
}

async function replica(url: string): Promise<Database> {
  const database = await openDatabase({ url });
  opened.push(database);
  return database;
}

before(async () => {
  // npm test's PostgreSQL (its admin URL ends in /postgres), or one of this file's own.
  adminUrl = process.env.HOIST_TEST_POSTGRES_URL ?? (await sharedPostgres()).url;
});
after(async () => {
  await Promise.all(opened.map((d) => d.close()));
});

test('three replicas migrating one fresh PostgreSQL at once apply every migration exactly once', async () => {
  const url = await emptyDatabase();
  const replicas = await Promise.all([replica(url), replica(url), replica(url)]);
  const reports = await Promise.all(replicas.map((r) => migrate(r.db as never)));
  const applied = reports.flatMap((r) => r.applied).sort();
  assert.deepEqual(applied, Object.keys(MIGRATIONS).sort(), 'each migration once, by one of them');
  assert.equal(reports.filter((r) => r.applied.length > 0).length, 1, 'one replica did the work, the others waited');
  const { rows } = await sql<{ name: string; n: number }>`
    SELECT name, count(*)::int AS n FROM kysely_migration GROUP BY name HAVING count(*) > 1`.execute(replicas[0]!.db);
  assert.deepEqual(rows, []);
  // Started again (a restart, the next rollout): nothing to do.
  assert.deepEqual((await migrate(replicas[1]!.db as never)).applied, []);
});

test('a migration waits while another session holds the lock, and applies once it is released', async () => {
  const url = await emptyDatabase();
  const holder = new pg.Client({ connectionString: url });
  holder.on('error', () => {});
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    const database = await replica(url);
    let finished = false;
    const migrating = migrate(database.db as never).then((r) => {
      finished = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal(finished, false, 'waiting for the lock');
    const { rows } = await holder.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    assert.equal(rows[0]?.n, 1, 'the migration is the one waiting');
    await holder.query('COMMIT');
    assert.equal((await migrating).applied.length, Object.keys(MIGRATIONS).length);
  } finally {
    await holder.end();
  }
});
