/**
 * Projects are hard boundaries, on both backends: repository namespaces belong to projects. An owner of alpha
 * cannot point an environment at beta's repositories (nor at any repository outside alpha's grants, nor at a
 * template whose expansion depends on the application name alone); a developer of alpha cannot register beta's
 * image as an alpha artifact; grants of two projects never overlap; a grant in use cannot be revoked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';

const A = '/api/v1/projects/alpha';
const B = '/api/v1/projects/beta';

for (const backend of BACKENDS) {
  void describe(`namespaces [${backend}]`, () => {
    let api: TestApi;
    let admin: Call;
    let ownA: Call;
    let devA: Call;
    before(async () => {
      api = await startApi(backend);
      admin = caller(api.app, await api.tokenFor('root', { admin: true }));
      ownA = caller(api.app, await api.tokenFor('own-a'));
      devA = caller(api.app, await api.tokenFor('dev-a'));
      await admin('POST', '/api/v1/registries', { name: 'dst', url: '127.0.0.1:5999' });
      for (const p of ['alpha', 'beta']) {
        await admin('POST', '/api/v1/projects', { name: p });
        await admin('POST', `/api/v1/projects/${p}/applications`, { name: 'web' });
      }
      await admin('POST', `${A}/members`, { username: 'own-a', role: 'owner' });
      await admin('POST', `${A}/members`, { username: 'dev-a', role: 'developer' });
    });
    after(() => api?.close());

    test('an admin grants each project its prefixes; overlapping grants between projects are refused', async () => {
      const granted = await admin('PUT', `${B}/namespaces`, { registry: 'dst', prefix: 'beta-prod/' });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      assert.deepEqual(
        [granted.body.project, granted.body.registry, granted.body.prefix],
        ['beta', 'dst', 'beta-prod/'],
      );
      assert.equal((await admin('PUT', `${A}/namespaces`, { registry: 'dst', prefix: 'alpha' })).status, 200);
      for (const prefix of ['beta-prod/web', 'beta-prod', '']) {
        const res = await admin('PUT', `${A}/namespaces`, { registry: 'dst', prefix });
        assert.equal(res.status, prefix === '' ? 400 : 409, `${prefix}: ${JSON.stringify(res.body)}`);
      }
      // A whole path component, not a string prefix: beta-prod does not cover beta-prodx.
      assert.equal((await admin('PUT', `${A}/namespaces`, { registry: 'dst', prefix: 'beta-prodx/' })).status, 200);
      assert.equal((await admin('PUT', `${B}/namespaces`, { registry: 'dst', prefix: '/' })).status, 400);
      assert.equal((await ownA('PUT', `${A}/namespaces`, { registry: 'dst', prefix: 'mine/' })).status, 403);
      const mine = (await ownA('GET', `${A}/namespaces`)).body.items.map((g: { prefix: string }) => g.prefix);
      assert.deepEqual(mine, ['alpha/', 'beta-prodx/']);
      assert.equal((await ownA('GET', `${B}/namespaces`)).status, 403);
    });

    test("an owner of alpha cannot point an environment at beta's repositories, or outside alpha's grants", async () => {
      assert.equal(
        (
          await admin('PUT', `${B}/environments/prod`, {
            kind: 'repository',
            registry: 'dst',
            repository: 'beta-prod/{app}',
          })
        ).status,
        200,
      );
      for (const repository of ['beta-prod/{app}', 'beta-prod/web', 'elsewhere/{app}', '{app}', '{app}/alpha']) {
        for (const kind of ['repository', 'tag']) {
          const res = await ownA('PUT', `${A}/environments/beta-prod`, {
            kind,
            registry: 'dst',
            repository,
            ...(kind === 'tag' ? { tag: 'prod' } : {}),
          });
          assert.equal(res.status, 403, `${kind} ${repository}: ${JSON.stringify(res.body)}`);
          assert.match(res.body.error.message, /outside the namespaces of project "alpha"/);
        }
      }
      assert.equal((await ownA('GET', `${A}/environments/beta-prod`)).status, 404);
      const own = await ownA('PUT', `${A}/environments/prod`, {
        kind: 'repository',
        registry: 'dst',
        repository: 'alpha/prod/{app}',
      });
      assert.equal(own.status, 200, JSON.stringify(own.body));
    });

    test("a developer of alpha cannot register beta's image as an alpha artifact", async () => {
      const res = await devA('POST', `${A}/applications/web/artifacts`, {
        reference: '127.0.0.1:5999/beta-prod/web:1.0',
      });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.match(res.body.error.message, /repository "beta-prod\/web" is outside the namespaces of project "alpha"/);
    });

    test('a grant in use by an environment cannot be revoked; an unused one can', async () => {
      const inUse = await admin('DELETE', `${A}/namespaces?registry=dst&prefix=alpha/`);
      assert.equal(inUse.status, 409, JSON.stringify(inUse.body));
      assert.match(inUse.body.error.message, /alpha\/prod/);
      assert.equal((await admin('DELETE', `${A}/namespaces?registry=dst&prefix=beta-prodx/`)).status, 204);
      assert.equal((await admin('DELETE', `${A}/namespaces?registry=dst&prefix=beta-prodx/`)).status, 404);
    });
  });
}
