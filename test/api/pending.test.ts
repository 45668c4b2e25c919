/**
 * "Waiting for me" on both backends: `GET …/promotions?pendingFor=me` lists (newest first, paged by cursor) the
 * requests with a target the caller may still approve, and `GET /api/v1/me` counts them for the badge, with the
 * decision's own rules: a promoter whose role covers the environment, not the requester (separation of duties) and
 * not one who decided already. The requester, a promoter limited to another environment, a developer and a promoter
 * of another project see none; the other project's promoter may not list this project at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
const image = buildImage({ layers: [1000] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '1.0' });
});
after(() => reg?.stop());

const USERS = ['pat', 'pia', 'pete', 'pam', 'devon', 'oscar'] as const;
type User = (typeof USERS)[number] | 'root';

for (const backend of BACKENDS) {
  void describe(`approvals waiting for me [${backend}]`, () => {
    let api: TestApi;
    const as: Partial<Record<User, Call>> = {};
    const call = (who: User, ...rest: Parameters<Call>) => as[who]!(...rest);
    const P = '/api/v1/projects/shop';
    const pending = (who: User, query = '') => call(who, 'GET', `${P}/promotions?pendingFor=me${query}`);
    const ids = async (who: User, query = ''): Promise<string[]> => {
      const r = await pending(who, query);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.items.map((p: { id: string }) => p.id);
    };
    const badge = async (who: User): Promise<number> => {
      const me = await call(who, 'GET', '/api/v1/me');
      assert.equal(me.status, 200, JSON.stringify(me.body));
      return me.body.badges.approvalsWaiting;
    };

    before(async () => {
      api = await startApi(backend);
      as.root = caller(api.app, await api.tokenFor('root', { admin: true }));
      for (const u of USERS) as[u] = caller(api.app, await api.tokenFor(u));
      await call('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      for (const project of ['shop', 'other']) {
        await call('root', 'POST', '/api/v1/projects', { name: project });
        await call('root', 'POST', `/api/v1/projects/${project}/applications`, { name: 'web' });
      }
      for (const env of ['dev', 'staging', 'prod']) {
        const g = await call('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: `${env}/` });
        assert.equal(g.status, 200, JSON.stringify(g.body));
        const e = await call('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
        assert.ok(e.status < 300, JSON.stringify(e.body));
      }
      await call('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
        ],
      });
      for (const [project, username, role, environments] of [
        ['shop', 'pat', 'promoter', null],
        ['shop', 'pia', 'promoter', null],
        ['shop', 'pete', 'owner', null],
        ['shop', 'pam', 'promoter', ['prod']],
        ['shop', 'devon', 'developer', null],
        ['other', 'oscar', 'promoter', null],
      ] as const) {
        const m = await call('root', 'POST', `/api/v1/projects/${project}/members`, { username, role, environments });
        assert.equal(m.status, 201, JSON.stringify(m.body));
      }
      const policy = await call('root', 'POST', '/api/v1/policies', { name: 'staging-gate', approverCount: 2 });
      assert.equal(policy.status, 201, JSON.stringify(policy.body));
      const applied = await call('root', 'POST', '/api/v1/policies/staging-gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
      assert.ok(applied.status < 300, JSON.stringify(applied.body));
      const registered = await call('root', 'POST', `${P}/applications/web/artifacts`, {
        reference: `${reg.host}/dev/web:1.0`,
      });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
    });
    after(() => api?.close());

    const request = async (who: User, comment: string): Promise<string> => {
      const r = await call(who, 'POST', `${P}/applications/web/promotions`, {
        digest: image.digest,
        from: 'dev',
        to: ['staging'],
        comment,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.targets[0].state, 'AWAITING_APPROVAL', JSON.stringify(r.body));
      return r.body.id as string;
    };

    test('the requester sees 0, another promoter 1; a promoter of another environment or project and a developer 0', async () => {
      for (const u of USERS) assert.equal(await badge(u), 0, `${u} before any request`);
      const first = await request('pat', 'first');
      assert.deepEqual(await ids('pia'), [first]);
      assert.equal(await badge('pia'), 1);
      assert.deepEqual(await ids('pete'), [first], 'an owner approves too');
      // pat asked (separation of duties), pam promotes prod only, devon is no promoter.
      for (const u of ['pat', 'pam', 'devon'] as const) {
        assert.deepEqual(await ids(u), [], u);
        assert.equal(await badge(u), 0, u);
      }
      // oscar promotes in another project: nothing here for him, and this project's list is not his to read.
      assert.equal(await badge('oscar'), 0);
      const foreign = await pending('oscar');
      assert.ok(foreign.status === 403 || foreign.status === 404, JSON.stringify(foreign.body));
      // An admin who is no member of the project decides nothing there, so nothing waits for root either.
      assert.equal(await badge('root'), 0);
    });

    test('one who decided no longer counts it while it still waits for others; a decided request leaves every list', async () => {
      const [first] = await ids('pia');
      const approved = await call('pia', 'POST', `${P}/promotions/${first}/approve`, { comment: 'ok' });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.equal(approved.body.targets[0].state, 'AWAITING_APPROVAL', 'one approval of two');
      assert.deepEqual(await ids('pia'), []);
      assert.equal(await badge('pia'), 0);
      assert.deepEqual(await ids('pete'), [first]);
      const rejected = await call('pete', 'POST', `${P}/promotions/${first}/reject`, { comment: 'no' });
      assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
      for (const u of USERS) assert.equal(await badge(u), 0, `${u} after the rejection`);
    });

    test('pages follow the cursor newest first, and the filter holds on every page', async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push(await request(i % 2 === 0 ? 'pat' : 'pia', `r${i}`));
      // pia asked r1 and r3: she sees the other three; pete sees all five, two per page.
      assert.deepEqual(await ids('pia'), [made[4], made[2], made[0]]);
      assert.equal(await badge('pia'), 3);
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        const r = await pending('pete', `&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok(r.body.items.length <= 2);
        seen.push(...r.body.items.map((p: { id: string }) => p.id));
        cursor = r.body.nextCursor;
        if (cursor === null) break;
      }
      assert.deepEqual(seen, [...made].reverse());
      assert.equal(await badge('pete'), 5);
      const bad = await pending('pete', '&cursor=not-a-cursor');
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
    });
  });
}
