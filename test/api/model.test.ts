/**
 * The model through the API on both backends: registries with sealed credentials and a real connection test,
 * projects, applications, environments and pipelines with their validation, environment-limited roles, and the
 * audit entries every change leaves (without secrets).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';

let basic: TestRegistry;
before(async () => {
  basic = await startRegistry({ auth: 'basic' });
});
after(() => basic?.stop());

for (const backend of BACKENDS) {
  void describe(`model API [${backend}]`, () => {
    let api: TestApi;
    let call: Call;
    before(async () => {
      api = await startApi(backend);
      call = caller(api.app, await api.tokenFor('root', { admin: true }));
    });
    after(() => api?.close());

    test('registry credentials are sealed, never returned, and tested against the real registry', async () => {
      const created = await call('POST', '/api/v1/registries', {
        name: 'dev-reg',
        url: `http://${basic.host}`,
        username: 'alice',
        password: 'wonderland',
      });
      assert.equal(created.status, 201);
      assert.deepEqual(
        { ...created.body, createdAt: 0, updatedAt: 0 },
        {
          name: 'dev-reg',
          url: basic.host,
          insecure: true,
          username: 'alice',
          hasSecret: true,
          pollBudget: 10,
          createdAt: 0,
          updatedAt: 0,
        },
      );
      const stored = await sql<{
        secret_enc: string;
      }>`SELECT secret_enc FROM registries WHERE name = 'dev-reg'`.execute(api.database.db);
      assert.ok(!stored.rows[0]?.secret_enc.includes('wonderland'));
      assert.ok(!JSON.stringify((await call('GET', '/api/v1/registries')).body).includes('wonderland'));
      assert.deepEqual((await call('POST', '/api/v1/registries/dev-reg/test')).body, {
        reachable: true,
        auth: 'accepted',
        referrersApi: false,
        message: 'ok',
      });
      await call('PUT', '/api/v1/registries/dev-reg', { url: `http://${basic.host}`, password: 'wrong' });
      assert.equal((await call('POST', '/api/v1/registries/dev-reg/test')).body.auth, 'refused');
      await call('PUT', '/api/v1/registries/gone', { url: 'http://127.0.0.1:1' });
      assert.equal((await call('POST', '/api/v1/registries/gone/test')).body.reachable, false);
      const audit = (await call('GET', '/api/v1/audit?objectType=registry&objectId=dev-reg&order=oldest')).body
        .items as Array<{
        action: string;
        summary: unknown;
      }>;
      assert.deepEqual(
        audit.map((a) => a.action),
        ['registry.create', 'registry.update'],
      );
      assert.ok(!JSON.stringify(audit).includes('wonderland') && !JSON.stringify(audit).includes('"wrong"'));
      const page1 = (await call('GET', '/api/v1/registries?limit=1')).body;
      assert.deepEqual([page1.items.map((r: { name: string }) => r.name), page1.nextCursor], [['dev-reg'], 'dev-reg']);
      const page2 = (await call('GET', `/api/v1/registries?limit=1&cursor=${page1.nextCursor}`)).body;
      assert.deepEqual([page2.items.map((r: { name: string }) => r.name), page2.nextCursor], [['gone'], null]);
      assert.deepEqual(
        (await call('GET', '/api/v1/registries?q=gon')).body.items.map((r: { name: string }) => r.name),
        ['gone'],
      );
      assert.equal(
        (await call('GET', '/api/v1/registries?colour=red')).status,
        400,
        'unknown query parameters are refused',
      );
      assert.equal((await call('POST', '/api/v1/registries', { name: 'Bad Name', url: 'x' })).status, 400);
      assert.match(
        (await call('POST', '/api/v1/registries', { name: 'bad-url', url: 'http://a b' })).body.error.message,
        /not a registry address/,
      );
    });

    test('projects, applications, environments and a pipeline with a declared skip edge', async () => {
      assert.equal((await call('POST', '/api/v1/projects', { name: 'shop', description: 'the shop' })).status, 201);
      assert.equal((await call('POST', '/api/v1/projects', { name: 'shop' })).status, 409);
      assert.equal((await call('POST', '/api/v1/projects/shop/applications', { name: 'web' })).status, 201);
      assert.deepEqual((await call('GET', '/api/v1/projects/shop/applications')).body.items, ['web']);
      for (const prefix of ['dev/', 'staging/', 'prod/', 'apps/'])
        await call('PUT', '/api/v1/projects/shop/namespaces', { registry: 'dev-reg', prefix });
      for (const [name, repo] of [
        ['dev', 'dev/{app}'],
        ['staging', 'staging/{app}'],
        ['prod', 'prod/{app}'],
      ]) {
        const r = await call('PUT', `/api/v1/projects/shop/environments/${name}`, {
          kind: 'repository',
          registry: 'dev-reg',
          repository: repo,
          protected: name === 'prod',
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      const envs = (await call('GET', '/api/v1/projects/shop/environments')).body.items as Array<{
        name: string;
        position: number;
        protected: boolean;
      }>;
      assert.deepEqual(
        envs.map((e) => [e.name, e.position, e.protected]),
        [
          ['dev', 0, false],
          ['staging', 1, false],
          ['prod', 2, true],
        ],
      );
      const tagEnv = await call('PUT', '/api/v1/projects/shop/environments/qa', {
        kind: 'tag',
        registry: 'dev-reg',
        repository: 'apps/{app}',
        tag: '{tag}-qa',
      });
      assert.equal(tagEnv.status, 200);
      const edges = [
        { from: 'dev', to: 'staging' },
        { from: 'staging', to: 'prod' },
        { from: 'dev', to: 'prod' },
      ];
      // Edges come back in pipeline order: by the source's position, then the target's.
      assert.deepEqual((await call('PUT', '/api/v1/projects/shop/pipeline', { edges })).body.edges, [
        edges[0],
        edges[2],
        edges[1],
      ]);
      assert.equal(await api.app.inject({ url: '/x' }).then((r) => r.statusCode), 404);
    });

    test('bad environments and edges are refused with the field named', async () => {
      const bad = await call('PUT', '/api/v1/projects/shop/environments/x1', {
        kind: 'repository',
        registry: 'dev-reg',
        repository: 'Prod/{app}',
      });
      assert.deepEqual([bad.status, bad.body.error.details], [400, { field: 'repository' }]);
      const noTag = await call('PUT', '/api/v1/projects/shop/environments/x2', {
        kind: 'tag',
        registry: 'dev-reg',
        repository: 'apps/{app}',
      });
      assert.deepEqual(noTag.body.error.details, { field: 'tag' });
      const noReg = await call('PUT', '/api/v1/projects/shop/environments/x3', {
        kind: 'repository',
        registry: 'nope',
        repository: 'a/{app}',
      });
      assert.match(noReg.body.error.message, /no registry named "nope"/);
      const self = await call('PUT', '/api/v1/projects/shop/pipeline', { edges: [{ from: 'dev', to: 'dev' }] });
      assert.deepEqual([self.status, self.body.error.details], [400, { field: 'edges[0]' }]);
      await call('POST', '/api/v1/projects', { name: 'other' });
      await call('PUT', '/api/v1/projects/other/namespaces', { registry: 'dev-reg', prefix: 'live/' });
      await call('PUT', '/api/v1/projects/other/environments/live', {
        kind: 'repository',
        registry: 'dev-reg',
        repository: 'live/{app}',
      });
      const across = await call('PUT', '/api/v1/projects/shop/pipeline', { edges: [{ from: 'dev', to: 'live' }] });
      assert.match(
        across.body.error.message,
        /project "shop" has no environment "live" \(edges stay inside one project\)/,
      );
      assert.equal(
        (await call('GET', '/api/v1/projects/shop/pipeline')).body.edges.length,
        3,
        'a refused change leaves the pipeline as it was',
      );
      assert.equal((await call('DELETE', '/api/v1/registries/dev-reg')).status, 409, 'a registry in use stays');
    });

    test('a role may be limited to some environments; unknown environments are refused', async () => {
      await api.tokenFor('pam');
      const ok = await call('POST', '/api/v1/projects/shop/members', {
        username: 'pam',
        role: 'promoter',
        environments: ['prod'],
      });
      assert.equal(ok.status, 201);
      assert.deepEqual((await call('GET', '/api/v1/projects/shop/members')).body.items, [
        { username: 'pam', role: 'promoter', environments: ['prod'] },
      ]);
      const bad = await call('POST', '/api/v1/projects/shop/members', {
        username: 'pam',
        role: 'promoter',
        environments: ['moon'],
      });
      assert.match(bad.body.error.message, /no environment moon/);
      const pam = await api.tokenFor('pam');
      const me = await api.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${pam}` } });
      assert.deepEqual(me.json().memberships, [{ project: 'shop', role: 'promoter', environments: ['prod'] }]);
      const visible = await api.app.inject({ url: '/api/v1/projects', headers: { authorization: `Bearer ${pam}` } });
      assert.deepEqual(
        (visible.json().items as Array<{ name: string }>).map((p) => p.name),
        ['shop'],
      );
      assert.equal((await call('POST', '/api/v1/audit/verify')).body.ok, true);
    });
  });
}
