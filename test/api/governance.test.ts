/**
 * Governance fails closed, on both backends: an owner cannot remove an admin's gate. A protected environment is
 * deleted, moved or unprotected only by an admin; policy bindings never vanish as a side effect (deleting the
 * environment, application, policy or project they depend on is refused, naming them) and go only by `unapply`;
 * a role limited to some environments changes only those.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';

const P = '/api/v1/projects/alpha';
const ENV = { kind: 'repository', registry: 'r' };

for (const backend of BACKENDS) {
  void describe(`governance [${backend}]`, () => {
    let api: TestApi;
    let admin: Call;
    let owner: Call;
    let stagingPromoter: Call;
    let stagingOwner: Call;
    const boundPolicy = async (): Promise<string[]> =>
      ((await admin('GET', '/api/v1/policies/gate')).body.appliesTo as Array<{ environment: string }>).map(
        (b) => b.environment,
      );

    before(async () => {
      api = await startApi(backend);
      admin = caller(api.app, await api.tokenFor('root', { admin: true }));
      owner = caller(api.app, await api.tokenFor('own-a'));
      stagingPromoter = caller(api.app, await api.tokenFor('stan'));
      stagingOwner = caller(api.app, await api.tokenFor('sol'));
      await admin('POST', '/api/v1/registries', { name: 'r', url: 'http://127.0.0.1:5000' });
      await admin('POST', '/api/v1/projects', { name: 'alpha' });
      assert.equal((await admin('PUT', `${P}/namespaces`, { registry: 'r', prefix: 'alpha/' })).status, 200);
      for (const env of ['staging', 'prod'])
        assert.ok(
          (await admin('PUT', `${P}/environments/${env}`, { ...ENV, repository: `alpha/${env}/{app}` })).status < 300,
        );
      await admin('PUT', `${P}/environments/prod`, { ...ENV, repository: 'alpha/prod/{app}', protected: true });
      await admin('POST', `${P}/applications`, { name: 'web' });
      await admin('POST', `${P}/members`, { username: 'own-a', role: 'owner' });
      await admin('POST', `${P}/members`, { username: 'stan', role: 'promoter', environments: ['staging'] });
      await admin('POST', `${P}/members`, { username: 'sol', role: 'owner', environments: ['staging'] });
      assert.equal((await admin('POST', '/api/v1/policies', { name: 'gate', approverCount: 2 })).status, 201);
      const applied = await admin('POST', '/api/v1/policies/gate/apply', {
        applicationEnvironments: [{ project: 'alpha', application: 'web', environment: 'prod' }],
      });
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
    });
    after(() => api?.close());

    test('an owner cannot delete a protected environment, and its policy binding stays', async () => {
      const res = await owner('DELETE', `${P}/environments/prod`);
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.match(res.body.error.message, /protected: only an admin deletes it/);
      assert.equal((await owner('GET', `${P}/environments/prod`)).status, 200);
      assert.deepEqual(await boundPolicy(), ['prod']);
    });

    test('an owner cannot move, retag or unprotect a protected environment, but may set its windows and soak', async () => {
      const changes: Array<[Record<string, unknown>, string]> = [
        [{ repository: 'alpha/elsewhere/{app}' }, 'repository'],
        [{ protected: false }, 'protected'],
        [{ immutableTags: true }, 'immutableTags'],
        [{ kind: 'tag', tag: 'prod' }, 'kind'],
      ];
      for (const [change, field] of changes) {
        const res = await owner('PUT', `${P}/environments/prod`, { ...ENV, repository: 'alpha/prod/{app}', ...change });
        assert.equal(res.status, 403, `${field}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.error.message, new RegExp(`protected: only an admin changes its .*${field}`));
      }
      const env = (await owner('GET', `${P}/environments/prod`)).body;
      assert.deepEqual([env.repository, env.protected, env.kind], ['alpha/prod/{app}', true, 'repository']);
      const soak = await owner('PUT', `${P}/environments/prod`, {
        ...ENV,
        repository: 'alpha/prod/{app}',
        soakSeconds: 60,
      });
      assert.equal(soak.status, 200, JSON.stringify(soak.body));
      const windows = await owner('PUT', `${P}/environments/prod/windows`, { windows: [] });
      assert.equal(windows.status, 200, JSON.stringify(windows.body));
    });

    test('deleting what a policy binding depends on is refused with the binding named, even for an admin', async () => {
      const named = /policy "gate" on alpha\/web → prod/;
      for (const [who, url] of [
        [admin, `${P}/environments/prod`],
        [owner, `${P}/applications/web`],
        [admin, `${P}/applications/web`],
        [admin, '/api/v1/policies/gate'],
        [admin, P],
      ] as const) {
        const res = await who('DELETE', url);
        assert.equal(res.status, 409, `${url}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.error.message, named);
      }
      assert.deepEqual(await boundPolicy(), ['prod']);
      assert.equal((await owner('POST', '/api/v1/policies/gate/unapply', { applicationEnvironments: [] })).status, 403);
    });

    test('a role limited to staging changes nothing about prod', async () => {
      const bind = await stagingPromoter('PUT', `${P}/applications/web/bindings/prod`, { mode: 'track-latest' });
      assert.equal(bind.status, 403, JSON.stringify(bind.body));
      assert.match(bind.body.error.message, /environment "prod" of project "alpha" needs one of the roles/);
      const own = await stagingPromoter('PUT', `${P}/applications/web/bindings/staging`, { mode: 'track-latest' });
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.equal(
        (await stagingOwner('PUT', `${P}/environments/prod/windows`, { windows: [] })).status,
        403,
        'windows of prod',
      );
      assert.equal((await stagingOwner('PUT', `${P}/environments/staging/windows`, { windows: [] })).status, 200);
      const rule = await stagingOwner('POST', `${P}/rules`, { name: 'up', from: 'staging', to: 'prod' });
      assert.equal(rule.status, 403, JSON.stringify(rule.body));
      const promote = await stagingPromoter('POST', `${P}/applications/web/promotions`, {
        tag: 'v1',
        from: 'staging',
        to: ['prod'],
      });
      assert.equal(promote.status, 403, JSON.stringify(promote.body));
      const members = await stagingOwner('POST', `${P}/members`, { username: 'sol', role: 'owner' });
      assert.equal(members.status, 403, 'an owner of staging cannot widen their own role');
      assert.equal((await stagingOwner('PUT', `${P}/pipeline`, { edges: [] })).status, 403);
      // A rule into prod made by an unlimited owner cannot be removed by the owner of staging.
      assert.equal((await owner('POST', `${P}/rules`, { name: 'to-prod', from: 'staging', to: 'prod' })).status, 201);
      assert.equal((await stagingOwner('DELETE', `${P}/rules/to-prod`)).status, 403);
      assert.equal((await owner('DELETE', `${P}/rules/to-prod`)).status, 204);
    });

    test('an admin unapplies the policy; then the protected environment can go (by an admin only)', async () => {
      const res = await admin('POST', '/api/v1/policies/gate/unapply', {
        applicationEnvironments: [{ project: 'alpha', application: 'web', environment: 'prod' }],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(await boundPolicy(), []);
      const again = await admin('POST', '/api/v1/policies/gate/unapply', {
        applicationEnvironments: [{ project: 'alpha', application: 'web', environment: 'prod' }],
      });
      assert.equal(again.status, 400);
      assert.equal((await owner('DELETE', `${P}/environments/prod`)).status, 403);
      assert.equal((await owner('DELETE', P)).status, 403, 'a project with a protected environment');
      assert.equal((await admin('DELETE', `${P}/environments/prod`)).status, 204);
      assert.equal((await admin('DELETE', '/api/v1/policies/gate')).status, 204);
    });
  });
}
