/**
 * Two replicas (two sets of services and two HTTP servers) on one real PostgreSQL: a stream held on one replica
 * sees a promotion requested, approved and copied on the other, with the copy's progress, delivered by LISTEN/NOTIFY
 * (the poll that covers lost notifications is set to a minute here, so only a notification can deliver in time). A
 * stream resumed on the other replica with the first one's Last-Event-ID replays what it missed: ids are one
 * sequence for all replicas. Ids are drawn without a lock (migration 0026), so two transactions may commit out of id
 * order: a listener on either replica still sees both, in id order, the later one only once the earlier committed.
 */
import { after, before, test } from 'node:test';
import pg from 'pg';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildServer } from '../../src/api/server.ts';
import type { App, Services } from '../../src/api/context.ts';
import { createServices } from '../../src/api/services.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { findUserByName } from '../../src/store/accounts.repository.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';
import { caller, LOOPBACK_CIDRS, TEST_PASSWORD_COST, type Call } from '../helpers/api.ts';
import { freshPostgres } from '../helpers/backends.ts';
import { openSse, type SseStream } from '../helpers/sse.ts';

interface Replica {
  database: Database;
  services: Services;
  app: App;
  url: string;
}

const image = buildImage({ layers: [3 * 1024 * 1024] });
let regA: TestRegistry;
let regB: TestRegistry;
const replicas: Replica[] = [];
const streams: SseStream[] = [];
const tokens: Record<string, string> = {};
let databaseUrl = '';

before(async () => {
  [regA, regB] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(regA.url, 'dev/web', image, { tag: '1.0' });
  const url = await freshPostgres(); // migrated
  databaseUrl = url;
  const box = new SecretBox(randomBytes(32));
  for (let i = 0; i < 2; i++) {
    const database = await openDatabase({ url });
    const services = createServices(database, box, {
      outbound: OutboundPolicy.fromList(LOOPBACK_CIDRS),
      live: { pollMs: 60_000 },
      accounts: { passwordCost: TEST_PASSWORD_COST },
    });
    const app = await buildServer(services);
    replicas.push({ database, services, app, url: await app.listen({ port: 0, host: '127.0.0.1' }) });
  }
  const accounts = replicas[0]?.services.accounts;
  assert.ok(accounts);
  for (const [username, isAdmin] of [
    ['root', true],
    ['mia', false],
    ['pat', false],
  ] as const) {
    const user =
      (await findUserByName(replicas[0]!.database.db, username)) ??
      (await accounts.createUser({ username: 'test' }, { username, password: `${username}-password`, isAdmin }));
    tokens[username] = (await accounts.createToken({ userId: user.id, username }, 'test')).token;
  }
});

after(async () => {
  for (const s of streams) s.close();
  for (const r of replicas) {
    await r.app.close();
    await r.database.close();
  }
  await Promise.all([regA?.stop(), regB?.stop()]);
});

test('a stream on one replica sees what another replica did, and resumes on the other replica', async () => {
  const [one, two] = replicas as [Replica, Replica];
  const on = (r: Replica, who: string): Call => caller(r.app, tokens[who] ?? '');
  const root = on(two, 'root');
  const P = '/api/v1/projects/shop';
  for (const [method, path, body] of [
    ['POST', '/api/v1/registries', { name: 'a', url: regA.url }],
    ['POST', '/api/v1/registries', { name: 'b', url: regB.url }],
    ['POST', '/api/v1/projects', { name: 'shop' }],
    ['PUT', `${P}/namespaces`, { registry: 'a', prefix: 'dev/' }],
    ['PUT', `${P}/namespaces`, { registry: 'b', prefix: 'staging/' }],
    ['POST', `${P}/applications`, { name: 'web' }],
    ['PUT', `${P}/environments/dev`, { kind: 'repository', registry: 'a', repository: 'dev/{app}' }],
    ['PUT', `${P}/environments/staging`, { kind: 'repository', registry: 'b', repository: 'staging/{app}' }],
    ['PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] }],
    ['POST', `${P}/members`, { username: 'mia', role: 'viewer' }],
    ['POST', `${P}/members`, { username: 'pat', role: 'promoter' }],
    ['POST', '/api/v1/policies', { name: 'gate', approverCount: 1 }],
    [
      'POST',
      '/api/v1/policies/gate/apply',
      { applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }] },
    ],
    ['POST', `${P}/applications/web/artifacts`, { reference: `${regA.host}/dev/web:1.0` }],
  ] as const) {
    const r = await root(method, path, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  }

  // mia watches replica one; everything happens on replica two.
  const watch = await openSse(`${one.url}/api/v1/events/stream`, { authorization: `Bearer ${tokens.mia}` });
  streams.push(watch);
  assert.equal(watch.status, 200);
  const requested = await root('POST', `${P}/applications/web/promotions`, {
    tag: '1.0',
    from: 'dev',
    to: ['staging'],
  });
  assert.equal(requested.status, 201, JSON.stringify(requested.body));
  const id = requested.body.id as string;
  const first = await watch.waitFor((e) => e.event === 'promotion.requested', 'requested on the other replica');
  assert.equal(first.data.requestId, id);

  assert.equal((await on(two, 'pat')('POST', `${P}/promotions/${id}/approve`, {})).status, 200);
  await watch.waitFor((e) => e.event === 'promotion.approved', 'approved on the other replica');
  watch.close();
  await watch.ended;

  // While mia is away the other replica copies it (3 MiB from registry a to b) ...
  const resumedOnTwo = await openSse(`${two.url}/api/v1/events/stream`, {
    authorization: `Bearer ${tokens.mia}`,
    'last-event-id': first.id ?? '',
  });
  streams.push(resumedOnTwo);
  const liveOnOne = await openSse(`${one.url}/api/v1/events/stream`, { authorization: `Bearer ${tokens.mia}` });
  streams.push(liveOnOne);
  assert.equal(await two.services.runner.runOne(), true);
  // ... and replica one's live stream saw the copy's progress and its end, made on replica two.
  const promoted = await liveOnOne.waitFor(
    (e) => e.event === 'promotion.state' && e.data.states.staging === 'PROMOTED',
    'PROMOTED on the other replica',
  );
  const progress = liveOnOne.events.filter((e) => e.event === 'copy.progress');
  assert.ok(progress.length >= 1, 'copy progress crossed replicas');
  assert.deepEqual(
    [progress.at(-1)?.data.done, progress.at(-1)?.data.bytes >= 3 * 1024 * 1024],
    [true, true],
    JSON.stringify(progress),
  );
  assert.equal(promoted.data.requestId, id);

  // Resumed on replica two from replica one's id: exactly what came after it, in order.
  await resumedOnTwo.waitFor((e) => e.id === promoted.id, 'the PROMOTED event');
  assert.deepEqual(
    resumedOnTwo.events
      .filter((e) => e.id !== undefined)
      .map((e) => [e.event, JSON.stringify(e.data.states ?? e.data.environments)]),
    [
      ['promotion.approved', '["staging"]'],
      ['promotion.state', '{"staging":"QUEUED"}'],
      ['promotion.state', '{"staging":"PROMOTING"}'],
      ['promotion.state', '{"staging":"PROMOTED"}'],
    ],
  );
});

test('two transactions committing out of id order: listeners on both replicas see both, in id order', async () => {
  const [one, two] = replicas as [Replica, Replica];
  const { rows } = await replicas[0]!.database.db
    .selectFrom('projects')
    .select('id')
    .where('name', '=', 'shop')
    .execute()
    .then((r) => ({ rows: r }));
  const projectId = rows[0]?.id;
  assert.ok(projectId, 'the project of the first test');
  const watchOne = await openSse(`${one.url}/api/v1/events/stream`, { authorization: `Bearer ${tokens.root}` });
  const watchTwo = await openSse(`${two.url}/api/v1/events/stream`, { authorization: `Bearer ${tokens.root}` });
  streams.push(watchOne, watchTwo);
  // Two writers as the live-event triggers write (migration 0026): draw an id, insert in a subtransaction, notify.
  const slow = new pg.Client({ connectionString: databaseUrl });
  const fast = new pg.Client({ connectionString: databaseUrl });
  await Promise.all([slow.connect(), fast.connect()]);
  try {
    const write = async (client: pg.Client, name: string): Promise<number> => {
      const drawn = await client.query<{ id: string }>(
        `SELECT (hoist_draw_ids('live_events_id_seq', 1))[1]::text AS id`,
      );
      const id = drawn.rows[0]?.id ?? '';
      await client.query('SAVEPOINT s');
      await client.query(
        `INSERT INTO live_events (id, project_id, type, data, at) VALUES ($1, $2, 'promotion.state', $3, now())`,
        [id, projectId, JSON.stringify({ requestId: name, project: 'shop', states: { staging: 'QUEUED' } })],
      );
      await client.query('RELEASE SAVEPOINT s');
      await client.query(`SELECT pg_notify('hoist_live_events', $1)`, [id]);
      return Number(id);
    };
    await slow.query('BEGIN');
    const earlier = await write(slow, 'out-of-order-earlier');
    await fast.query('BEGIN');
    const later = await write(fast, 'out-of-order-later');
    await fast.query('COMMIT');
    assert.ok(earlier < later);
    // The later event is committed and announced, but an earlier id is still in flight: nobody may pass over it.
    await new Promise((resolve) => setTimeout(resolve, 400));
    for (const w of [watchOne, watchTwo])
      assert.ok(!w.events.some((e) => e.data?.requestId === 'out-of-order-later'), 'held behind the earlier id');
    await slow.query('COMMIT');
    for (const w of [watchOne, watchTwo]) {
      await w.waitFor((e) => e.data?.requestId === 'out-of-order-later', 'the later event');
      assert.deepEqual(
        w.events.filter((e) => String(e.data?.requestId ?? '').startsWith('out-of-order-')).map((e) => Number(e.id)),
        [earlier, later],
      );
    }
    // A stream resumed from before both replays both, in order.
    const resumed = await openSse(`${two.url}/api/v1/events/stream`, {
      authorization: `Bearer ${tokens.root}`,
      'last-event-id': String(earlier - 1),
    });
    streams.push(resumed);
    await resumed.waitFor((e) => e.data?.requestId === 'out-of-order-later', 'the later event, replayed');
    assert.deepEqual(
      resumed.events.filter((e) => e.id !== undefined).map((e) => Number(e.id)),
      [earlier, later],
    );
  } finally {
    await Promise.all([slow.end(), fast.end()]);
  }
});
