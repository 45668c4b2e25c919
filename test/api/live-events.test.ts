/**
 * The event stream (GET /api/v1/events/stream) over real HTTP, on both backends: a member sees their project's
 * promotion events (requested, approved, the runner's PROMOTING/PROMOTED, copy progress of a multi-MiB layer copied
 * between two registries) and never another project's; a stream resumed with Last-Event-ID replays exactly what it
 * missed; binding changes to the project's members only, quarantine changes to everyone; limits per user; anonymous
 * callers refused; server shutdown ends open streams.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { openSse, type SseEvent, type SseStream } from '../helpers/sse.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

const LAYER = 4 * 1024 * 1024;
let regA: TestRegistry;
const web = buildImage({ layers: [LAYER, 1000] });
const web2 = buildImage({ layers: [1500] });
const api1 = buildImage({ layers: [1200] });
before(async () => {
  regA = await startRegistry();
  await pushImage(regA.url, 'dev/web', web, { tag: '1.0' });
  await pushImage(regA.url, 'dev/web', web2, { tag: '1.1' });
  await pushImage(regA.url, 'odev/api', api1, { tag: '1.0' });
});
after(() => regA?.stop());

type As = (who: string, ...call: Parameters<Call>) => ReturnType<Call>;

/** Project `project` with app `app`: dev in registry a (`<dev>/{app}`), staging in registry b; dev → staging. */
async function seedProject(as: As, project: string, app: string, prefix: string): Promise<void> {
  const P = `/api/v1/projects/${project}`;
  const ok = (r: { status: number; body: unknown }, what: string) =>
    assert.ok(r.status < 300, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  ok(await as('root', 'POST', '/api/v1/projects', { name: project }), 'project');
  ok(await as('root', 'PUT', `${P}/namespaces`, { registry: 'a', prefix: `${prefix}dev/` }), 'namespace a');
  ok(await as('root', 'PUT', `${P}/namespaces`, { registry: 'b', prefix: `${prefix}staging/` }), 'namespace b');
  ok(await as('root', 'POST', `${P}/applications`, { name: app }), 'application');
  ok(
    await as('root', 'PUT', `${P}/environments/dev`, {
      kind: 'repository',
      registry: 'a',
      repository: `${prefix}dev/{app}`,
    }),
    'dev',
  );
  ok(
    await as('root', 'PUT', `${P}/environments/staging`, {
      kind: 'repository',
      registry: 'b',
      repository: `${prefix}staging/{app}`,
    }),
    'staging',
  );
  ok(await as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] }), 'pipeline');
}

const ofRequest = (id: string) => (e: SseEvent) => e.data?.requestId === id;

for (const backend of BACKENDS) {
  void describe(`event stream [${backend}]`, () => {
    let api: TestApi;
    // The target registry is this suite's own, so that the copy streams every byte on each backend.
    let regB: TestRegistry;
    let base: string;
    let as: As;
    const tokens: Record<string, string> = {};
    const streams: SseStream[] = [];
    let closed = false;
    const stream = async (who: string, headers: Record<string, string> = {}, query = '') => {
      const s = await openSse(`${base}/api/v1/events/stream${query}`, {
        ...(who ? { authorization: `Bearer ${tokens[who] ?? ''}` } : {}),
        ...headers,
      });
      streams.push(s);
      return s;
    };
    const request = async (project: string, app: string, tag: string) => {
      const r = await as('root', 'POST', `/api/v1/projects/${project}/applications/${app}/promotions`, {
        tag,
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id as string;
    };

    before(async () => {
      regB = await startRegistry();
      // No poll within a test's time: only the database's notification on commit can deliver an event.
      api = await startApi(backend, { live: { maxStreamsPerUser: 4, heartbeatMs: 300, pollMs: 600_000 } });
      base = await api.app.listen({ port: 0, host: '127.0.0.1' });
      for (const u of ['mia', 'pat', 'otto']) tokens[u] = await api.tokenFor(u);
      tokens.root = await api.tokenFor('root', { admin: true });
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'a', url: regA.url });
      await as('root', 'POST', '/api/v1/registries', { name: 'b', url: regB.url });
      await seedProject(as, 'shop', 'web', '');
      await seedProject(as, 'other', 'api', 'o');
      for (const [project, username, role] of [
        ['shop', 'mia', 'viewer'],
        ['shop', 'pat', 'promoter'],
        ['other', 'otto', 'viewer'],
      ] as const) {
        const m = await as('root', 'POST', `/api/v1/projects/${project}/members`, { username, role });
        assert.equal(m.status, 201, JSON.stringify(m.body));
      }
      await as('root', 'POST', '/api/v1/policies', { name: 'gate', approverCount: 1 });
      const applied = await as('root', 'POST', '/api/v1/policies/gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
      assert.ok(applied.status < 300, JSON.stringify(applied.body));
      for (const [project, app, ref] of [
        ['shop', 'web', `${regA.host}/dev/web:1.0`],
        ['shop', 'web', `${regA.host}/dev/web:1.1`],
        ['other', 'api', `${regA.host}/odev/api:1.0`],
      ] as const) {
        const r = await as('root', 'POST', `/api/v1/projects/${project}/applications/${app}/artifacts`, {
          reference: ref,
        });
        assert.ok(r.status < 300, JSON.stringify(r.body));
      }
    });
    after(async () => {
      for (const s of streams) s.close();
      if (closed) await api?.database.close();
      else await api?.close();
      await regB?.stop();
    });

    test("a member sees their project's promotion from request to PROMOTED with copy progress, never another project's", async () => {
      const mia = await stream('mia');
      const otto = await stream('otto');
      assert.equal(mia.status, 200);
      assert.match(String(mia.headers['content-type']), /^text\/event-stream/);

      const theirs = await request('other', 'api', '1.0');
      const id = await request('shop', 'web', '1.0');
      const requested = await mia.waitFor(ofRequest(id), 'requested');
      assert.deepEqual(
        [
          requested.event,
          requested.data.project,
          requested.data.application,
          requested.data.states,
          requested.data.actor,
        ],
        ['promotion.requested', 'shop', 'web', { staging: 'AWAITING_APPROVAL' }, 'root'],
      );
      assert.match(requested.id ?? '', /^\d+$/);
      await otto.waitFor(ofRequest(theirs), "other's request");

      const approved = await as('pat', 'POST', `/api/v1/projects/shop/promotions/${id}/approve`, { comment: 'ok' });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      const approval = await mia.waitFor((e) => e.event === 'promotion.approved', 'approved');
      assert.deepEqual(
        [approval.data.environments, approval.data.actor, approval.data.comment],
        [['staging'], 'pat', 'ok'],
      );

      // Two queued (other's first): the runner takes them in order.
      assert.equal(await api.services.runner.runOne(), true);
      assert.equal(await api.services.runner.runOne(), true);
      const promoted = await mia.waitFor(
        (e) => e.event === 'promotion.state' && e.data.requestId === id && e.data.states.staging === 'PROMOTED',
        'PROMOTED',
      );
      await otto.waitFor(
        (e) => e.event === 'promotion.state' && e.data.states.staging === 'PROMOTED',
        "other's PROMOTED",
      );

      const mine = mia.events.filter((e) => e.data.requestId === id);
      assert.deepEqual(
        mine
          .filter((e) => e.id !== undefined)
          .map((e) => [e.event, JSON.stringify(e.data.states ?? e.data.environments)]),
        [
          ['promotion.requested', '{"staging":"AWAITING_APPROVAL"}'],
          ['promotion.approved', '["staging"]'],
          ['promotion.state', '{"staging":"QUEUED"}'],
          ['promotion.state', '{"staging":"PROMOTING"}'],
          ['promotion.state', '{"staging":"PROMOTED"}'],
        ],
      );
      const ids = mine.filter((e) => e.id !== undefined).map((e) => Number(e.id));
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        'ids increase',
      );
      // Progress of the 4 MiB layer streamed from registry a to b: no id (never replayed), the last one complete.
      const progress = mia.events.filter((e) => e.event === 'copy.progress' && e.data.requestId === id);
      assert.ok(progress.length >= 2, `at least the first and the last report: ${JSON.stringify(progress)}`);
      assert.ok(progress.every((e) => e.id === undefined));
      const last = progress.at(-1)?.data;
      assert.equal(last.done, true);
      assert.ok(last.total >= LAYER, `total ${last.total}`);
      assert.equal(last.bytes, last.total);
      assert.equal(last.environment, 'staging');
      assert.equal(progress.filter((e) => e.data.done).length, 1, 'one last report');
      assert.ok(
        mia.events.indexOf(progress.at(-1) as SseEvent) < mia.events.indexOf(promoted),
        'progress ends before PROMOTED',
      );

      // Nothing of project "other" ever reached mia, though it happened before her last events; and the reverse.
      assert.deepEqual(
        mia.events.filter((e) => e.data.project !== 'shop'),
        [],
      );
      assert.deepEqual(
        otto.events.filter((e) => e.data.project !== 'other'),
        [],
      );
      assert.ok(
        otto.events.some((e) => e.event === 'copy.progress'),
        "otto saw his own project's copy progress",
      );
      mia.close();
      otto.close();
    });

    test('a stream resumed with Last-Event-ID replays exactly the events it missed, then goes on live', async () => {
      const first = await stream('mia');
      const marker = await request('shop', 'web', '1.1');
      const seen = await first.waitFor(ofRequest(marker), 'marker');
      first.close();
      await first.ended;

      // While mia is away: a cancel in her project, a request in another project, and a new request in hers.
      assert.equal((await as('root', 'POST', `/api/v1/projects/shop/promotions/${marker}/cancel`, {})).status, 200);
      await request('other', 'api', '1.0');
      const missed = await request('shop', 'web', '1.1');

      const resumed = await stream('mia', { 'last-event-id': seen.id ?? '' });
      assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
      await resumed.waitFor(ofRequest(missed), 'the missed request');
      const live = await request('shop', 'web', '1.0');
      await resumed.waitFor(ofRequest(live), 'live after the replay');
      assert.deepEqual(
        resumed.events.map((e) => [e.event, e.data.requestId]),
        [
          ['promotion.state', marker],
          ['promotion.requested', missed],
          ['promotion.requested', live],
        ],
      );
      assert.deepEqual(resumed.events[0]?.data.states, { staging: 'CANCELED' });
      const ids = resumed.events.map((e) => Number(e.id));
      assert.ok(
        ids.every((n, i) => n > Number(seen.id) && (i === 0 || n > (ids[i - 1] ?? 0))),
        `ids ${ids}`,
      );

      // The first connection of an EventSource cannot send a header: the query parameter does the same.
      const byQuery = await stream('mia', {}, `?lastEventId=${seen.id ?? ''}`);
      await byQuery.waitFor(ofRequest(live), 'replayed by query');
      assert.deepEqual(
        byQuery.events.map((e) => e.data.requestId),
        [marker, missed, live],
      );
      // An id this server never gave (another database, or pruned history) tells the client to reload.
      const stranger = await stream('mia', { 'last-event-id': '999999999' });
      const reset = await stranger.waitFor((e) => e.event === 'reset', 'reset');
      assert.match(reset.id ?? '', /^\d+$/);
      for (const s of [resumed, byQuery, stranger]) s.close();
      await Promise.all([resumed.ended, byQuery.ended, stranger.ended]);
    });

    test("a binding change reaches the project's members only; a quarantine change reaches everyone", async () => {
      const member = await stream('mia');
      const stranger = await stream('otto');
      assert.equal(member.status, 200);
      assert.equal(stranger.status, 200);
      const binding = '/api/v1/projects/shop/applications/web/bindings/staging';
      const set = await as('root', 'PUT', binding, { mode: 'pin', digest: web.digest, comment: 'hold' });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const changed = await member.waitFor((e) => e.event === 'binding.changed', 'binding.changed');
      assert.deepEqual(changed.data, { project: 'shop', application: 'web', environment: 'staging' });
      assert.equal(changed.id, undefined, 'not stored, so not resumable by id');
      assert.equal((await as('root', 'DELETE', binding)).status, 204);
      await member.waitFor(
        (e) => e.event === 'binding.changed' && e !== changed,
        'binding.changed after the binding was removed',
      );
      // Quarantine is hoist-wide: everyone hears that the list changed (not which digest; the list answers that).
      const q = await as('root', 'POST', '/api/v1/quarantine', { digest: api1.digest, reason: 'bad build' });
      assert.equal(q.status, 201, JSON.stringify(q.body));
      for (const s of [member, stranger]) {
        const e = await s.waitFor((x) => x.event === 'quarantine.changed', 'quarantine.changed');
        assert.deepEqual(e.data, {});
      }
      assert.equal((await as('root', 'DELETE', `/api/v1/quarantine/${api1.digest}`)).status, 204);
      await stranger.waitFor(
        (e) => e.event === 'quarantine.changed' && stranger.events.filter((x) => x.event === e.event).length === 2,
        'quarantine.changed after the lift',
      );
      // The quarantine events came after the binding's: otto, who is not in shop, was never told about it.
      assert.equal(stranger.events.filter((e) => e.event === 'binding.changed').length, 0);
      member.close();
      stranger.close();
      await Promise.all([member.ended, stranger.ended]);
    });

    test('anonymous callers are refused; a user may hold a bounded number of streams; heartbeats keep them open', async () => {
      const anonymous = await stream('');
      assert.equal(anonymous.status, 401);
      const open = [await stream('otto'), await stream('otto'), await stream('otto'), await stream('otto')];
      assert.ok(open.every((s) => s.status === 200));
      const fifth = await stream('otto');
      assert.equal(fifth.status, 429);
      assert.equal(fifth.body.error.code, 'TOO_MANY_REQUESTS');
      assert.ok(fifth.headers['retry-after']);
      const other = await stream('mia');
      assert.equal(other.status, 200, 'the limit is per user');
      other.close();
      await open[0]?.waitFor(() => false, 'nothing', 1000).catch(() => undefined);
      assert.ok((open[0]?.comments.filter((c) => c === 'heartbeat').length ?? 0) >= 1, 'a heartbeat came');
      open[0]?.close();
      await open[0]?.ended;
      // The server notices the closed stream and lets the user open another.
      for (let i = 0; i < 50; i++) {
        const again = await stream('otto');
        if (again.status === 200) return void again.close();
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail('a closed stream still counted against the limit');
    });

    test('server shutdown ends open streams', async () => {
      const s = await stream('mia');
      assert.equal(s.status, 200);
      closed = true;
      await api.app.close();
      await s.ended;
      assert.ok(s.comments.includes('server shutting down'));
      assert.equal(api.services.live.count(), 0);
    });
  });
}
