/**
 * The leased queue on both databases, with a second actor each time: attempts are counted exactly (3 means 3), a
 * job whose worker died is taken over after its lease and the dead worker's late write is refused, two queues on
 * two connections never run one job twice, a worker whose lease was taken over is aborted, and a shutdown hands a
 * running job back at once with its attempt returned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { forEachBackend } from '../helpers/backends.ts';
import { LeasedQueue, type Job, type JobHandler } from '../../src/service/leased-queue.ts';
import { claimJobs, LeaseLost, settleJob, type JobTableSpec } from '../../src/store/jobs.repository.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { NetworkError, RegistryError } from '../../src/errors.ts';

const SPEC: JobTableSpec<'notification_deliveries'> = {
  table: 'notification_deliveries',
  waiting: 'PENDING',
  working: 'SENDING',
  orderBy: 'run_after',
  message: 'last_error',
};
const quiet = pino({ level: 'silent' });
let serial = 0;

/** Adds `n` due jobs to an otherwise empty queue (each test starts from its own jobs only). */
async function addJobs(database: Database, n: number): Promise<string[]> {
  await database.db.deleteFrom('notification_deliveries').execute();
  const now = new Date();
  const ids = Array.from({ length: n }, () => `job-${++serial}-${Math.random().toString(36).slice(2)}`);
  await database.db
    .insertInto('notification_deliveries')
    .values(
      ids.map((id) => ({
        id,
        kind: 'email' as const,
        webhook_id: null,
        recipients: JSON.stringify(['a@example.com']),
        event: 'promotion.promoted',
        payload: '{}',
        state: 'PENDING' as const,
        run_after: now,
        created_at: now,
      })),
    )
    .execute();
  return ids;
}

const stateOf = async (database: Database, id: string) =>
  database.db
    .selectFrom('notification_deliveries')
    .select(['state', 'attempts', 'lease_token', 'last_error'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();

const done =
  (database: Database): JobHandler['run'] =>
  async (job) =>
    settleJob(database.db, SPEC, job, { state: 'DELIVERED', delivered_at: new Date() });
const failed =
  (database: Database): JobHandler['giveUp'] =>
  async (job, error) =>
    settleJob(database.db, SPEC, job, { state: 'FAILED', last_error: error.message });

function queue(
  database: Database,
  handler: JobHandler,
  o: Partial<ConstructorParameters<typeof LeasedQueue>[3]> = {},
  db = database.db,
) {
  return new LeasedQueue(db, SPEC, handler, {
    name: 'test',
    leaseMs: 10_000,
    maxAttempts: 3,
    concurrency: 4,
    backoff: { baseDelayMs: 1, maxDelayMs: 2 },
    logger: quiet,
    notifier: database.notifier,
    ...o,
  });
}

const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
};

forEachBackend('leased queue', (use, backend) => {
  test('maxAttempts 3 makes exactly 3 attempts of a transiently failing job, then gives up once', async () => {
    const database = use();
    const [id] = await addJobs(database, 1);
    let runs = 0;
    let giveUps = 0;
    const q = queue(database, {
      run: async () => {
        runs++;
        throw new RegistryError('PUT manifest', 503, []);
      },
      giveUp: async (job, error) => {
        giveUps++;
        await failed(database)(job, error);
      },
    });
    await until('the job to fail for good', async () => {
      await q.runOne();
      return (await stateOf(database, id as string)).state === 'FAILED';
    });
    assert.equal(runs, 3);
    assert.equal(giveUps, 1);
    const row = await stateOf(database, id as string);
    assert.equal(row.attempts, 3);
    assert.match(row.last_error ?? '', /HTTP 503/);
    assert.equal(await q.runOne(), false, 'nothing left to do');
  });

  test('a permanent error fails the job at its first attempt', async () => {
    const database = use();
    const [id] = await addJobs(database, 1);
    let runs = 0;
    const q = queue(database, {
      run: async () => {
        runs++;
        throw new RegistryError('PUT manifest', 400, [{ code: 'MANIFEST_INVALID', message: 'no' }]);
      },
      giveUp: failed(database),
    });
    await q.runOne();
    assert.equal(runs, 1);
    assert.equal((await stateOf(database, id as string)).state, 'FAILED');
  });

  test("a job whose worker died is taken over after its lease; the dead worker's late write is refused", async () => {
    const database = use();
    const [id] = await addJobs(database, 1);
    const q = queue(database, { run: done(database), giveUp: failed(database) });
    const dead = await q.claim();
    assert.equal(dead?.id, id);
    assert.equal(await q.claim(), undefined, 'a live lease keeps others away');
    const later = new Date(Date.now() + 11_000);
    const taker = await q.claim(later);
    assert.equal(taker?.id, id, 'after the lease, another worker takes it');
    assert.equal(taker?.token, (dead?.token ?? 0) + 1, 'with the next fencing token');
    await assert.rejects(
      settleJob(database.db, SPEC, dead as NonNullable<typeof dead>, { state: 'DELIVERED' }),
      LeaseLost,
    );
    await settleJob(database.db, SPEC, taker as NonNullable<typeof taker>, { state: 'DELIVERED' });
    const row = await stateOf(database, id as string);
    assert.equal(row.state, 'DELIVERED');
    assert.equal(row.attempts, 2);
  });

  test('two queues on two connections run 40 jobs, each exactly once', async () => {
    const database = use();
    const other = backend === 'postgres' ? await openDatabase({ url: database.location }) : database;
    try {
      const ids = await addJobs(database, 40);
      const seen: string[] = [];
      const handler = (db: Database): JobHandler => ({
        run: async (job) => {
          seen.push(job.id);
          await new Promise((r) => setTimeout(r, 5));
          await done(db)(job);
        },
        giveUp: failed(db),
      });
      const a = queue(database, handler(database));
      const b = queue(other, handler(other));
      await Promise.all([a.start(), b.start()]);
      a.notify();
      await until('every job to be delivered', async () => {
        const left = await database.db
          .selectFrom('notification_deliveries')
          .select('id')
          .where('id', 'in', ids)
          .where('state', '!=', 'DELIVERED')
          .execute();
        return left.length === 0;
      });
      await Promise.all([a.stop(), b.stop()]);
      assert.equal(seen.filter((id) => ids.includes(id)).length, 40);
      assert.equal(new Set(seen).size, seen.length, 'no job ran twice');
      assert.ok(a.outcomes.done > 0 && b.outcomes.done > 0, 'both queues did some of the work');
    } finally {
      if (other !== database) await other.close();
    }
  });

  test('a queue that yields to other work claims nothing while that work is under way, and never longer than its limit', async () => {
    const database = use();
    const ids = await addJobs(database, 3);
    const ran: number[] = [];
    let busy = true;
    const handler: JobHandler = {
      run: async (job) => {
        ran.push(Date.now());
        await done(database)(job);
      },
      giveUp: failed(database),
    };
    const q = queue(database, handler, { yieldTo: () => busy });
    await q.start();
    q.notify();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ran.length, 0, 'nothing claimed while the other work is under way');
    busy = false;
    await until('the jobs to run once the other work is done', async () => ran.length === 3);
    await q.stop();
    for (const id of ids) assert.equal((await stateOf(database, id)).state, 'DELIVERED');

    // Work that never ends holds the queue off for its limit at most.
    await addJobs(database, 1);
    ran.length = 0;
    const started = Date.now();
    const starved = queue(database, handler, { yieldTo: () => true, yieldMaxMs: 200 });
    await starved.start();
    starved.notify();
    await until('the job to run after the limit', async () => ran.length === 1);
    await starved.stop();
    assert.ok((ran[0] as number) - started >= 190, `ran after ${(ran[0] as number) - started} ms`);
  });

  test('jobs arriving one by one look at the queue statistics about once a second while some run, and a job another actor makes due later is still run on time', async () => {
    const database = use();
    let looks = 0;
    const counted = database.db.withPlugin({
      transformQuery(args) {
        if (JSON.stringify(args.node).includes('next_due')) looks++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    await database.db.deleteFrom('notification_deliveries').execute();
    const ran: string[] = [];
    const q = queue(
      database,
      {
        run: async (job) => {
          ran.push(job.id);
          await new Promise((r) => setTimeout(r, 25));
          await done(database)(job);
        },
        giveUp: failed(database),
      },
      {},
      counted,
    );
    await q.start();
    const add = async (runAfter: Date): Promise<string> => {
      const id = `job-${++serial}-${Math.random().toString(36).slice(2)}`;
      await database.db
        .insertInto('notification_deliveries')
        .values({
          id,
          kind: 'email',
          webhook_id: null,
          recipients: JSON.stringify(['a@example.com']),
          event: 'promotion.promoted',
          payload: '{}',
          state: 'PENDING',
          run_after: runAfter,
          created_at: new Date(),
        })
        .execute();
      return id;
    };
    // A second actor (another replica's retry) makes a job due in 400 ms and tells no one.
    const insertedAt = Date.now();
    const later = await add(new Date(insertedAt + 400));
    // Jobs arrive one by one, each announced, faster than one worker ends them and slower than four: the workers
    // wake at every arrival and every job's end, with a worker free each time.
    const burst = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push(await add(new Date()));
      q.notify();
      await new Promise((r) => setTimeout(r, 10));
    }
    await until('every job to be delivered', async () => ids.every((id) => ran.includes(id)));
    const burstMs = Date.now() - burst;
    await until('the later job to run', async () => ran.includes(later));
    const laterMs = Date.now() - insertedAt;
    await q.stop();
    assert.equal(new Set(ran).size, 41, 'each job once');
    // A look after every wake with a worker free would be about 80: about one a second while jobs run, now (and one
    // whenever none runs, the workers being about to sleep).
    assert.ok(looks <= Math.ceil(burstMs / 1000) + 15, `${looks} looks at the statistics in ${burstMs} ms`);
    // Found at the next look, at most a second after the last: not at the idle check (30 s).
    assert.ok(laterMs < Math.max(3000, burstMs + 2500), `the later job ran after ${laterMs} ms`);
  });

  test('batch claims: two workers on two connections claim disjoint batches; a stalled batch is taken over after its lease, and the stalled worker writes nothing when it wakes', async () => {
    const database = use();
    const other = backend === 'postgres' ? await openDatabase({ url: database.location }) : database;
    try {
      const ids = await addJobs(database, 12);
      const now = new Date();
      // Both at once: every job claimed by one of them, none by both.
      const [first, second] = await Promise.all([
        claimJobs(database.db, SPEC, now, 1000, 5),
        claimJobs(other.db, SPEC, now, 60_000, 5),
      ]);
      assert.equal(first.length + second.length, 10);
      assert.equal(new Set([...first, ...second].map((c) => c.id)).size, 10, 'no job in both batches');
      const rest = await claimJobs(other.db, SPEC, now, 60_000, 5);
      assert.deepEqual(
        [...first, ...second, ...rest].map((c) => c.id).sort(),
        [...ids].sort(),
        'the rest, and nothing more',
      );
      assert.deepEqual(await claimJobs(database.db, SPEC, now, 1000, 5), [], 'live leases keep others away');
      // The first worker (a lease of 1 s) stalls past its lease; the second takes its batch over with the next tokens and finishes it.
      const later = new Date(now.getTime() + 1001);
      const taken = await claimJobs(other.db, SPEC, later, 1000, 10);
      assert.deepEqual(taken.map((c) => c.id).sort(), first.map((c) => c.id).sort(), 'exactly the lapsed batch');
      for (const c of taken) {
        assert.equal(c.token, (first.find((f) => f.id === c.id)?.token ?? 0) + 1);
        await settleJob(other.db, SPEC, c, { state: 'DELIVERED', delivered_at: new Date() });
      }
      // It wakes: every write of its batch is refused, and nothing it held changes.
      for (const c of first)
        await assert.rejects(settleJob(database.db, SPEC, c, { state: 'FAILED', last_error: 'late' }), LeaseLost);
      for (const c of first) {
        const row = await stateOf(database, c.id);
        assert.equal(row.state, 'DELIVERED');
        assert.equal(row.attempts, 2);
        assert.equal(row.last_error, null);
      }
    } finally {
      if (other !== database) await other.close();
    }
  });

  test('a worker whose lease is taken over is aborted through its signal and writes nothing', async () => {
    const database = use();
    const [id] = await addJobs(database, 1);
    let aborted: unknown;
    const q = queue(
      database,
      {
        run: async (job: Job) => {
          await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()));
          aborted = job.signal.reason;
          await done(database)(job);
        },
        giveUp: failed(database),
      },
      { leaseMs: 300 },
    );
    const running = q.runOne();
    await until('the claim', async () => (await stateOf(database, id as string)).state === 'SENDING');
    // Another worker takes the job over (as it would after the lease, had this one stalled).
    const taker = await q.claim(new Date(Date.now() + 1000));
    assert.equal(taker?.id, id);
    await running;
    assert.ok(aborted instanceof LeaseLost);
    assert.equal(q.outcomes['lease-lost'], 1);
    assert.equal((await stateOf(database, id as string)).state, 'SENDING', 'still the new worker’s');
  });

  test('stop() aborts a running job after the grace period and hands it back at once, attempt returned', async () => {
    const database = use();
    const [id] = await addJobs(database, 1);
    let started = false;
    const q = queue(database, {
      run: async (job: Job) => {
        started = true;
        await new Promise<void>((_, reject) =>
          job.signal.addEventListener('abort', () => reject(new NetworkError('copy', job.signal.reason))),
        );
      },
      giveUp: failed(database),
    });
    await q.start();
    q.notify();
    await until('the job to start', async () => started);
    await q.stop(50);
    const row = await stateOf(database, id as string);
    assert.equal(row.state, 'PENDING');
    assert.equal(row.attempts, 0);
    assert.equal(q.outcomes.released, 1);
    const next = await q.claim();
    assert.equal(next?.id, id, 'another worker can take it at once');
  });
});
