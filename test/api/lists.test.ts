/**
 * Lists as a person reads them, on both backends: the audit log newest first (the chain order on request, the verifier
 * unaffected), and history keeping the tag a request named on targets that were refused or went stale before any tag
 * was written.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
const image = buildImage({ layers: [1200] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '2.4' });
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`lists [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const P = '/api/v1/projects/shop';
    before(async () => {
      api = await startApi(backend);
      const tokens: Record<string, string> = {
        root: await api.tokenFor('root', { admin: true }),
        devon: await api.tokenFor('devon'),
      };
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const prefix of ['dev/', 'staging/'])
        await as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix });
      await as('root', 'PUT', `${P}/environments/dev`, {
        kind: 'repository',
        registry: 'local',
        repository: 'dev/{app}',
      });
      await as('root', 'PUT', `${P}/environments/staging`, {
        kind: 'repository',
        registry: 'local',
        repository: 'staging/{app}',
      });
      await as('root', 'PUT', `${P}/environments/prod`, {
        kind: 'tag',
        registry: 'local',
        repository: 'dev/{app}',
        tag: '{tag}-prod',
      });
      await as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] });
      await as('root', 'POST', `${P}/members`, { username: 'devon', role: 'developer' });
    });
    after(() => api?.close());

    test('the audit log lists newest first and pages backwards; order=oldest gives the chain order', async () => {
      const all = (await as('root', 'GET', '/api/v1/audit?order=oldest&limit=1000')).body.items as Array<{
        seq: string;
      }>;
      assert.ok(all.length >= 5, `${all.length} entries`);
      const seqs = all.map((e) => e.seq);
      const newest = seqs.slice().reverse();
      const page1 = (await as('root', 'GET', '/api/v1/audit?limit=2')).body;
      assert.deepEqual(
        page1.items.map((e: { seq: string }) => e.seq),
        newest.slice(0, 2),
      );
      const page2 = (await as('root', 'GET', `/api/v1/audit?limit=2&cursor=${page1.nextCursor}`)).body;
      assert.deepEqual(
        page2.items.map((e: { seq: string }) => e.seq),
        newest.slice(2, 4),
      );
      const oldest = (await as('root', 'GET', '/api/v1/audit?limit=2&order=oldest')).body;
      assert.deepEqual(
        oldest.items.map((e: { seq: string }) => e.seq),
        seqs.slice(0, 2),
      );
      assert.equal((await as('root', 'POST', '/api/v1/audit/verify')).body.ok, true);
    });

    test('history keeps the requested tag on REJECTED and STALE targets', async () => {
      await as('root', 'POST', '/api/v1/policies', { name: 'gate', approverCount: 1 });
      await as('root', 'POST', '/api/v1/policies/gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: '2.4',
        from: 'dev',
        to: ['staging', 'prod'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(
        r.body.targets.map((t: { environment: string; state: string }) => [t.environment, t.state]),
        [
          ['staging', 'AWAITING_APPROVAL'],
          ['prod', 'REJECTED'],
        ],
      );
      await as('root', 'PUT', '/api/v1/policies/gate', { failConditions: ['image.tag == "2.4"'] });
      const history = (await as('devon', 'GET', `${P}/history`)).body.items as Array<{
        to: string;
        state: string;
        tag: string | null;
      }>;
      assert.deepEqual(history.map((h) => [h.to, h.state, h.tag]).sort(), [
        ['prod', 'REJECTED', '2.4-prod'],
        ['staging', 'STALE', '2.4'],
      ]);
    });

    test('history filters by finished state and by a time range on the server (the console asks with them)', async () => {
      const rows = async (query: string) => {
        const r = await as('devon', 'GET', `${P}/history?${query}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return (r.body.items as Array<{ to: string; state: string }>).map((h) => `${h.to}:${h.state}`).sort();
      };
      assert.deepEqual(await rows('state=STALE'), ['staging:STALE']);
      assert.deepEqual(await rows('state=REJECTED&env=prod'), ['prod:REJECTED']);
      assert.deepEqual(await rows('until=2000-01-01T00:00:00Z'), [], 'nothing before 2000');
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
      assert.deepEqual(await rows(`since=2000-01-01T00:00:00Z&until=${encodeURIComponent(tomorrow)}`), [
        'prod:REJECTED',
        'staging:STALE',
      ]);
      // Only finished states are history; anything else is refused, not silently empty.
      assert.equal((await as('devon', 'GET', `${P}/history?state=QUEUED`)).status, 400);
      assert.equal((await as('devon', 'GET', `${P}/history?until=yesterday`)).status, 400);
    });
  });
}
