/**
 * Statements prepared once per PostgreSQL connection (src/store/prepared-statements.ts). PostgreSQL only: the embedded
 * database sends its statements through its own dialect, unchanged.
 *
 * The second actor is another replica's migration: it adds a column to a table this server has a prepared `SELECT *`
 * of. The next read answers the new column (outside a transaction, sent again at once); inside a transaction the
 * error reaches the caller and the transaction is rolled back, and the connection works afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { isStalePlan, StatementNames } from '../../src/store/prepared-statements.ts';
import { sharedPostgres } from '../harness/postgres.ts';

describe('which statements are named', () => {
  test('from its second use, only plain statements, at most maxNames texts', () => {
    const names = new StatementNames({ maxNames: 2 });
    const a = 'select * from "projects" where "name" = $1';
    assert.equal(names.nameOf(a), undefined, 'a first use is sent unnamed');
    const named = names.nameOf(a);
    assert.match(named ?? '', /^hoist_\d+$/);
    assert.equal(names.nameOf(a), named, 'one name per text');
    for (const text of ['begin', 'commit', 'SET LOCAL lock_timeout = 1', 'LISTEN x']) {
      names.nameOf(text);
      assert.equal(names.nameOf(text), undefined, text);
    }
    const b = '  WITH x AS (SELECT 1) SELECT * FROM x';
    names.nameOf(b);
    assert.notEqual(names.nameOf(b), named);
    const c = 'update "projects" set "description" = $1';
    names.nameOf(c);
    assert.equal(names.nameOf(c), undefined, 'past maxNames, new texts go unnamed');
    assert.equal(names.size, 2);
  });

  test('a statement that may change what prepared ones answer (DDL) changes every name after it', () => {
    const names = new StatementNames();
    const a = 'select * from "things"';
    names.nameOf(a);
    const before = names.nameOf(a);
    assert.equal(names.nameOf('savepoint "x"'), undefined);
    assert.equal(names.nameOf(a), before, 'transaction control changes nothing');
    names.nameOf('ALTER TABLE things ADD COLUMN c int');
    const after = names.nameOf(a);
    assert.ok(after !== undefined && after !== before, `${before} then ${String(after)}`);
    assert.equal(names.nameOf(a), after);
  });
});

describe('prepared statements on PostgreSQL', () => {
  let url: string;
  let database: Database;
  let replica: pg.Client;
  before(async () => {
    url = await (await sharedPostgres()).createDatabase();
    // One connection, so that every statement below goes through the same one.
    database = await openDatabase({ url, poolSize: 1, readReserve: 0 });
    replica = new pg.Client({ connectionString: url });
    await replica.connect();
    await replica.query('CREATE TABLE things (id int PRIMARY KEY, name text NOT NULL)');
    await replica.query("INSERT INTO things VALUES (1, 'one'), (2, 'two')");
  });
  after(async () => {
    await replica?.end();
    await database?.close();
  });

  const things = () => sql<Record<string, unknown>>`select * from things where id >= ${0} order by id`;
  const prepared = async (): Promise<string[]> =>
    (
      await sql<{ statement: string }>`select statement from pg_prepared_statements order by name`.execute(database.db)
    ).rows.map((r) => r.statement);

  test('a statement sent twice is prepared on the connection, and answers as before', async () => {
    assert.deepEqual((await things().execute(database.db)).rows, [
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ]);
    assert.deepEqual((await things().execute(database.db)).rows.length, 2);
    assert.deepEqual((await things().execute(database.db)).rows.length, 2);
    assert.ok(
      (await prepared()).some((s) => s.includes('from things')),
      `prepared: ${JSON.stringify(await prepared())}`,
    );
  });

  test("another replica's migration adds a column: the next read answers it", async () => {
    await replica.query("ALTER TABLE things ADD COLUMN colour text NOT NULL DEFAULT 'red'");
    assert.deepEqual((await things().execute(database.db)).rows, [
      { id: 1, name: 'one', colour: 'red' },
      { id: 2, name: 'two', colour: 'red' },
    ]);
  });

  test('inside a transaction, the stale statement fails it (rolled back); the connection goes on', async () => {
    await things().execute(database.db); // prepared under the connection's current names
    await replica.query('ALTER TABLE things ADD COLUMN size int');
    const failed = await database.db
      .transaction()
      .execute(async (trx) => {
        await sql`update things set name = 'uno' where id = 1`.execute(trx);
        await things().execute(trx);
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(isStalePlan(failed), String(failed));
    const rows = (await things().execute(database.db)).rows;
    assert.deepEqual(rows[0], { id: 1, name: 'one', colour: 'red', size: null }, 'the update was rolled back');
    await database.db.transaction().execute(async (trx) => {
      await sql`update things set name = 'uno' where id = 1`.execute(trx);
      assert.equal((await things().execute(trx)).rows[0]?.name, 'uno');
    });
  });

  test("this server's own migration: a transaction reads the new column at once", async () => {
    await things().execute(database.db);
    await things().execute(database.db);
    await sql`ALTER TABLE things ADD COLUMN weight int NOT NULL DEFAULT 7`.execute(database.db);
    await database.db.transaction().execute(async (trx) => {
      assert.equal((await things().execute(trx)).rows[0]?.weight, 7);
    });
  });

  test('HOIST_PREPARED_STATEMENTS=off (preparedStatements: false) prepares nothing', async () => {
    const unprepared = await openDatabase({ url, poolSize: 1, readReserve: 0, preparedStatements: false });
    try {
      for (let i = 0; i < 3; i++) await things().execute(unprepared.db);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements`.execute(
        unprepared.db,
      );
      assert.equal(rows[0]?.n, 0);
    } finally {
      await unprepared.close();
    }
  });
});
