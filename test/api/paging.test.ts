/**
 * Long lists page the same way everywhere, on both backends: promotion requests, history and push events answer
 * `{items, nextCursor}` newest first, and following `cursor` reaches every row exactly once past the first 100 — while
 * a second actor keeps adding rows at the top (keyset cursors, not offsets, so nothing shifts) and another project's
 * rows never appear. Rows are seeded through the service layer (requests that the pipeline refuses end at once, so
 * they are history too); a cursor hoist did not give out is a 400 naming it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

const ROWS = 130;
let reg: TestRegistry;
const image = buildImage({ layers: [700] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '1.0' });
  await pushImage(reg.url, 'other/web', image, { tag: '1.0' });
});
after(() => reg?.stop());

/** Follows nextCursor from the first page; answers every item and how many pages it took. */
async function all<T>(
  root: Call,
  url: string,
  limit: number,
  between?: () => Promise<void>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = url.includes('?') ? '&' : '?';
    const r: { status: number; body: { items: T[]; nextCursor: string | null } } = await root(
      'GET',
      `${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
    pages++;
    assert.ok(pages < 50, 'bounded');
    await between?.();
  } while (cursor !== null);
  return { items, pages };
}

for (const backend of BACKENDS) {
  void describe(`paging [${backend}]`, () => {
    let api: TestApi;
    let root: Call;
    const P = '/api/v1/projects/shop';
    /** A request dev → prod: the pipeline has no such edge, so its target is REJECTED at once (a history row). */
    const refused = (project = 'shop') =>
      api.services.promotions.request({ username: 'ci-bot' }, project, 'web', {
        digest: image.digest,
        from: 'dev',
        to: ['prod'],
      });

    before(async () => {
      api = await startApi(backend);
      root = caller(api.app, await api.tokenFor('root', { admin: true }));
      await root('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      for (const [project, prefix] of [
        ['shop', 'dev/'],
        ['other', 'other/'],
      ] as const) {
        await root('POST', '/api/v1/projects', { name: project });
        await root('PUT', `/api/v1/projects/${project}/namespaces`, { registry: 'local', prefix });
        await root('POST', `/api/v1/projects/${project}/applications`, { name: 'web' });
        await root('PUT', `/api/v1/projects/${project}/environments/dev`, {
          kind: 'repository',
          registry: 'local',
          repository: `${prefix}{app}`,
        });
        await root('PUT', `/api/v1/projects/${project}/environments/prod`, {
          kind: 'tag',
          registry: 'local',
          repository: `${prefix}{app}`,
          tag: '{tag}-prod',
        });
        const r = await root('POST', `/api/v1/projects/${project}/applications/web/artifacts`, {
          reference: `${reg.host}/${prefix}web:1.0`,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      for (let i = 0; i < ROWS; i++) await refused();
      for (let i = 0; i < 5; i++) await refused('other');
      const registry = await api.services.registries.row('local');
      const event = (i: number, repository: string) => ({
        id: `${repository}-${i}`,
        repository,
        tag: `t${i}`,
        digest: image.digest,
      });
      await api.services.intake.receive(
        registry.id,
        'generic',
        Array.from({ length: ROWS }, (_, i) => event(i, 'dev/web')),
      );
      await api.services.intake.receive(
        registry.id,
        'generic',
        Array.from({ length: 5 }, (_, i) => event(i, 'other/web')),
      );
    });
    after(() => api?.close());

    test('requests and history: 100 by default with a cursor to more; following it gives each row once', async () => {
      const first = await root('GET', `${P}/promotions`);
      assert.equal(first.body.items.length, 100);
      assert.equal(typeof first.body.nextCursor, 'string');
      const history = await root('GET', `${P}/history`);
      assert.equal(history.body.items.length, 100);
      assert.equal(typeof history.body.nextCursor, 'string');

      // A second actor adds requests at the top between pages: the pages already begun do not shift.
      let added = 0;
      const meanwhile = async () => {
        await refused();
        added++;
      };
      const requests = await all<{ id: string; createdAt: string }>(root, `${P}/promotions`, 40, meanwhile);
      assert.equal(requests.pages, Math.ceil(ROWS / 40));
      assert.equal(requests.items.length, ROWS, 'every request seen before the walk, none twice, none of the new');
      assert.equal(new Set(requests.items.map((r) => r.id)).size, ROWS);
      const times = requests.items.map((r) => Date.parse(r.createdAt));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
        'newest first',
      );

      const before = ROWS + added;
      const entries = await all<{ request: string; to: string }>(root, `${P}/history?env=prod`, 33, meanwhile);
      assert.equal(entries.items.length, before);
      assert.equal(new Set(entries.items.map((e) => e.request)).size, before);
      assert.ok(entries.items.every((e) => e.to === 'prod'));
      const last = await root('GET', `${P}/history?limit=1000`);
      assert.equal(last.body.nextCursor, null, 'the last page says so');
    });

    test('push events page the same way, and another project sees only its own', async () => {
      const first = await root('GET', '/api/v1/events');
      assert.equal(first.body.items.length, 100);
      const events = await all<{ id: string; repository: string }>(root, '/api/v1/events', 60);
      assert.equal(events.items.length, ROWS + 5);
      assert.equal(new Set(events.items.map((e) => e.id)).size, ROWS + 5);

      const olga = caller(api.app, await api.tokenFor('olga'));
      const member = await root('POST', '/api/v1/projects/other/members', { username: 'olga', role: 'viewer' });
      assert.ok(member.status < 300, JSON.stringify(member.body));
      const theirs = await all<{ repository: string }>(olga, '/api/v1/events', 2);
      assert.equal(theirs.items.length, 5);
      assert.equal(theirs.pages, 3);
      assert.ok(theirs.items.every((e) => e.repository === 'other/web'));
    });

    test('a cursor hoist did not give out is refused, naming it', async () => {
      for (const bad of ['not-a-cursor', Buffer.from('yesterday|x').toString('base64url'), '%%%'])
        for (const url of [`${P}/promotions`, `${P}/history`, '/api/v1/events']) {
          const r = await root('GET', `${url}?cursor=${encodeURIComponent(bad)}`);
          assert.equal(r.status, 400, `${url} ${bad}: ${JSON.stringify(r.body)}`);
          assert.match(JSON.stringify(r.body), /cursor/);
        }
    });
  });
}
