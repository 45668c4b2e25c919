/**
 * Connections kept for reads (src/store/reserved-reads.ts). PostgreSQL only: the embedded database has one connection
 * and orders its statements itself (src/store/embedded-dialect.ts).
 *
 * The second actor: writes hold every connection they may have (as 50 promotion requests' transactions did under
 * `npm run bench:load -- postgres`); another caller's GET is answered meanwhile, while a further write waits its turn
 * and goes through once one ends. Then the turns themselves, as a table: first come first served, reads passing
 * writes held back by their share, and a bounded wait that fails as pg's own does (an outage, src/store/outage.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { isDatabaseOutage } from '../../src/store/outage.ts';
import { asReader, ConnectionTurns, isReader } from '../../src/store/reserved-reads.ts';
import { caller, startApi, type TestApi } from '../helpers/api.ts';

describe('reads are answered while writes hold their connections [postgres]', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi('postgres');
  });
  after(() => api?.close());

  test('a GET is answered while writes hold all ten of theirs; the next write waits for one of them', async () => {
    const admin = caller(api.app, await api.tokenFor('root', { admin: true }));
    assert.equal((await admin('POST', '/api/v1/projects', { name: 'alpha' })).status, 201);
    const viewer = caller(api.app, await api.tokenFor('vic'));

    // Ten transactions (another actor's writes) that hold their connections until told to end.
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    let begun = 0;
    const writes = Array.from({ length: 10 }, () =>
      api.database.db.transaction().execute(async (trx) => {
        await sql`SELECT 1`.execute(trx);
        begun++;
        await ended;
      }),
    );
    while (begun < 10) await sleep(5);
    try {
      const pool = api.database.pool();
      assert.equal(pool.total - pool.idle, 10, 'the writes hold ten connections');

      // A further write waits for its turn.
      let created = false;
      const create = admin('POST', '/api/v1/projects', { name: 'beta' }).then((r) => {
        created = true;
        return r;
      });
      // Meanwhile a read, credential lookup included, is answered (a new caller: nothing kept for it yet).
      const started = performance.now();
      const read = await viewer('GET', '/api/v1/projects');
      assert.equal(read.status, 200);
      assert.ok(performance.now() - started < 2000, `the GET took ${Math.round(performance.now() - started)} ms`);
      await sleep(100);
      assert.equal(created, false, 'the write waited for a connection of the writes');
      assert.ok(api.database.pool().waiting >= 1);

      end();
      assert.equal((await create).status, 201);
    } finally {
      end();
      await Promise.all(writes);
    }
    assert.deepEqual(
      (await admin('GET', '/api/v1/projects')).body.items.map((p: { name: string }) => p.name),
      ['alpha', 'beta'],
    );
  });
});

describe('turns at the connections', () => {
  test('a reader is marked as such, and what it starts too', async () => {
    assert.equal(isReader(), false);
    await asReader(async () => {
      assert.equal(isReader(), true);
      await sleep(1);
      assert.equal(isReader(), true);
    });
    assert.equal(isReader(), false);
  });

  test('first come first served, but reads pass writes held back by their share', async () => {
    const turns = new ConnectionTurns(3, 2, 5000);
    const order: string[] = [];
    const enter = (name: string, reader: boolean): Promise<void> =>
      turns.enter(reader).then(() => void order.push(name));
    await enter('w1', false);
    await enter('w2', false);
    const w3 = enter('w3', false); // the writes' share is taken: waits
    const r1 = enter('r1', true); // the one connection left is the reads'
    await r1;
    const r2 = enter('r2', true); // all three in use: waits behind w3
    assert.deepEqual(order, ['w1', 'w2', 'r1']);
    assert.equal(turns.waiting, 2);
    turns.leave(true); // r1 ends: w3 may not have it (two writes hold their share), r2 may
    await r2;
    assert.deepEqual(order, ['w1', 'w2', 'r1', 'r2']);
    turns.leave(false); // w1 ends: w3 goes
    await w3;
    assert.deepEqual(order, ['w1', 'w2', 'r1', 'r2', 'w3']);
    assert.equal(turns.waiting, 0);
  });

  test('a wait is bounded, and fails as a database outage', async () => {
    const turns = new ConnectionTurns(1, 1, 50);
    await turns.enter(false);
    const refused = await turns.enter(true).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof Error && isDatabaseOutage(refused), String(refused));
    assert.equal(turns.waiting, 0);
    turns.leave(false);
    await turns.enter(true); // the turn given up is not counted
  });
});
