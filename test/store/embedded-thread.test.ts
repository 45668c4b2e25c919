/**
 * The embedded database on its own thread behaves as PGlite in-thread did: results with their types, errors with
 * their PostgreSQL fields (code, constraint), transactions that commit or roll back, a plain query that waits while
 * another caller's transaction is open, NOTIFY delivered to listeners, and the server's event loop free while the
 * database works.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migratedPGlite } from '../helpers/backends.ts';
import type { Schema } from '../../src/store/schema.ts';

let database: Database;
before(async () => {
  database = await openDatabase({ loadDataDir: await migratedPGlite() });
  await sql`CREATE TABLE thread_test (a int PRIMARY KEY, at timestamptz, doc jsonb)`.execute(database.db);
});
after(() => database?.close());

test('results keep their types; errors keep their PostgreSQL fields', async () => {
  const at = new Date('2026-12-03T10:00:00.123Z');
  await sql`INSERT INTO thread_test VALUES (1, ${at}, ${JSON.stringify({ k: [1, 'two'] })})`.execute(database.db);
  const { rows } = await sql<{ a: number; at: Date; doc: unknown }>`
    SELECT a, at, doc FROM thread_test`.execute(database.db);
  assert.equal(rows[0]?.a, 1);
  assert.ok(rows[0]?.at instanceof Date);
  assert.equal(rows[0]?.at.toISOString(), at.toISOString());
  assert.deepEqual(rows[0]?.doc, { k: [1, 'two'] });
  await assert.rejects(sql`INSERT INTO thread_test (a) VALUES (1)`.execute(database.db), (e: Error) => {
    const fields = e as Error & { code?: string; constraint?: string };
    assert.equal(fields.code, '23505');
    assert.equal(fields.constraint, 'thread_test_pkey');
    return true;
  });
});

test('a transaction commits or rolls back; a plain query waits while another caller has one open', async () => {
  await assert.rejects(
    database.db.transaction().execute(async (trx) => {
      await sql`INSERT INTO thread_test (a) VALUES (2)`.execute(trx);
      throw new Error('changed my mind');
    }),
    /changed my mind/,
  );
  const order: string[] = [];
  await Promise.all([
    database.db.transaction().execute(async (trx) => {
      order.push('transaction begins');
      await new Promise((r) => setTimeout(r, 100));
      await sql`INSERT INTO thread_test (a) VALUES (3)`.execute(trx);
      order.push('transaction ends');
    }),
    (async () => {
      await new Promise((r) => setTimeout(r, 20));
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM thread_test`.execute(database.db);
      order.push(`the other caller counts ${rows[0]?.n}`);
    })(),
  ]);
  assert.deepEqual(order, ['transaction begins', 'transaction ends', 'the other caller counts 2']);
});

test("NOTIFY reaches the database's listeners", async () => {
  const heard: string[] = [];
  const stop = await database.notifier.subscribe('thread_test_channel', (payload) => heard.push(payload));
  await sql`SELECT pg_notify('thread_test_channel', 'hello')`.execute(database.db);
  for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await stop();
  assert.deepEqual(heard, ['hello']);
});

test("the database's work does not hold the event loop", async () => {
  // A query that keeps PostgreSQL busy for over 100 ms; timers on this thread keep firing meanwhile. How many rows
  // take that long depends on how warm the WebAssembly is (a process that has run PGlite before runs it faster), so
  // the series doubles until the query is long enough.
  let ticks = 0;
  let ms = 0;
  for (let rows = 300_000; ms <= 100 && rows <= 300_000 * 2 ** 4; rows *= 2) {
    ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    await sql`SELECT count(*) FROM generate_series(1, ${rows}::int)`.execute(database.db);
    ms = performance.now() - started;
    clearInterval(timer);
  }
  assert.ok(ms > 100, `the query took ${ms} ms`);
  assert.ok(ticks >= ms / 10 / 4, `${ticks} ticks of 10 ms in ${Math.round(ms)} ms`);
});

test('many callers: statements are in flight at once, and a read waiting goes before a transaction not begun', async () => {
  // Many plain statements at once all answer, each its own.
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => sql<{ n: number }>`SELECT ${i}::int AS n`.execute(database.db)),
  );
  assert.deepEqual(
    answers.map((a) => a.rows[0]?.n),
    Array.from({ length: 50 }, (_, i) => i),
  );
  const order: string[] = [];
  let firstOpen!: () => void;
  const opened = new Promise<void>((resolve) => (firstOpen = resolve));
  const first = database.db.transaction().execute(async (trx) => {
    await sql`INSERT INTO thread_test (a) VALUES (10)`.execute(trx);
    firstOpen();
    await new Promise((r) => setTimeout(r, 100));
    order.push('first transaction ends');
  });
  await opened;
  // A second transaction asks to begin, then a read comes: the read waits for the open transaction only.
  const second = database.db.transaction().execute(async (trx) => {
    order.push('second transaction begins');
    await sql`INSERT INTO thread_test (a) VALUES (11)`.execute(trx);
  });
  await new Promise((r) => setTimeout(r, 10));
  const read = sql<{ n: number }>`SELECT count(*)::int AS n FROM thread_test WHERE a >= 10`
    .execute(database.db)
    .then(({ rows }) => order.push(`the read counts ${rows[0]?.n}`));
  await Promise.all([first, second, read]);
  assert.deepEqual(order, ['first transaction ends', 'the read counts 1', 'second transaction begins']);
});

test('a statement sent again runs prepared: same answers, errors, NULLs and arrays; DDL is seen by the next one', async () => {
  await sql`CREATE TABLE thread_prepared (id int PRIMARY KEY, name text, tags text[])`.execute(database.db);
  // More than five times: PostgreSQL may switch to a generic plan after five executions.
  for (let i = 1; i <= 8; i++)
    await database.db
      .insertInto('thread_prepared' as never)
      .values({ id: i, name: i % 2 ? `n${i}` : null, tags: [`t${i}`, 'x'] } as never)
      .execute();
  for (let i = 1; i <= 8; i++) {
    const row = await database.db
      .selectFrom('thread_prepared' as never)
      .selectAll()
      .where('id' as never, '=', i as never)
      .executeTakeFirst();
    assert.deepEqual(row, { id: i, name: i % 2 ? `n${i}` : null, tags: [`t${i}`, 'x'] });
  }
  // In a transaction too, and a failing prepared statement rolls it back with its PostgreSQL fields.
  await assert.rejects(
    database.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('thread_prepared' as never)
        .set({ name: 'changed' } as never)
        .execute();
      await trx
        .insertInto('thread_prepared' as never)
        .values({ id: 1 } as never)
        .execute();
    }),
    (e: Error & { code?: string }) => e.code === '23505',
  );
  const names = await sql<{ n: number }>`SELECT count(*)::int AS n FROM thread_prepared WHERE name = 'changed'`.execute(
    database.db,
  );
  assert.equal(names.rows[0]?.n, 0);
  // A migration adds a column under a prepared `select *`: the next call sees it (not "cached plan must not change
  // result type").
  const all = (db: Kysely<Schema> = database.db) =>
    db
      .selectFrom('thread_prepared' as never)
      .selectAll()
      .where('id' as never, '=', 2 as never);
  assert.deepEqual(Object.keys((await all().executeTakeFirst()) ?? {}), ['id', 'name', 'tags']);
  await database.db.transaction().execute(async (trx) => {
    await sql`ALTER TABLE thread_prepared ADD COLUMN size int NOT NULL DEFAULT 7`.execute(trx);
    assert.equal(((await all(trx).executeTakeFirst()) as { size?: number } | undefined)?.size, 7);
  });
  assert.equal(((await all().executeTakeFirst()) as { size?: number } | undefined)?.size, 7);
});
