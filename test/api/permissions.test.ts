/**
 * Every route × every kind of caller: anonymous callers get 401 where an identity is needed, signed-in users without
 * the role get 403, admins get through. The routes come from the server itself, so a new route is covered (and a
 * route without a declared permission cannot even be registered).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { requireDeclaredPermission } from '../../src/api/server.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import type { Permission } from '../../src/api/permissions.ts';
import type { ProjectRole } from '../../src/service/identity.ts';

let api: TestApi;
before(async () => {
  api = await startApi('pglite');
});
after(() => api?.close());

type Who = 'anonymous' | 'user' | 'viewer' | 'developer' | 'owner' | 'admin';
const PROJECT_ROLE: Partial<Record<Who, ProjectRole>> = { viewer: 'viewer', developer: 'developer', owner: 'owner' };

function expected(p: Permission, who: Who): 'unauthenticated' | 'forbidden' | 'allowed' {
  if (p.kind === 'public') return 'allowed';
  // Push-event hooks take a registry's secret, never a user: without it, everyone is refused.
  if (p.kind === 'hook') return 'unauthenticated';
  if (who === 'anonymous') return 'unauthenticated';
  if (p.kind === 'authenticated' || who === 'admin') return 'allowed';
  if (p.kind === 'project') {
    const role = PROJECT_ROLE[who];
    return role !== undefined && p.roles.includes(role) ? 'allowed' : 'forbidden';
  }
  return 'forbidden';
}

test('every route answers each caller as its declared permission says', async () => {
  const admin = await api.tokenFor('boss', { admin: true });
  const tokens: Record<Exclude<Who, 'anonymous'>, string> = {
    user: await api.tokenFor('plain-user'),
    viewer: await api.tokenFor('vic'),
    developer: await api.tokenFor('dev'),
    owner: await api.tokenFor('olga'),
    admin,
  };
  // Route parameters become "x": the members' roles are on project "x".
  const auth = { authorization: `Bearer ${admin}` };
  assert.equal(
    (await api.app.inject({ method: 'POST', url: '/api/v1/projects', headers: auth, payload: { name: 'x' } }))
      .statusCode,
    201,
  );
  for (const [username, role] of [
    ['vic', 'viewer'],
    ['dev', 'developer'],
    ['olga', 'owner'],
  ]) {
    assert.equal(
      (
        await api.app.inject({
          method: 'POST',
          url: '/api/v1/projects/x/members',
          headers: auth,
          payload: { username, role },
        })
      ).statusCode,
      201,
    );
  }
  const routes = api.app.declaredRoutes;
  assert.ok(routes.length >= 12, `${routes.length} routes`);
  for (const route of routes) {
    // The event stream never ends for an allowed caller (inject would wait forever): test/api/live-events.test.ts
    // checks it over real HTTP (401 anonymous, 200 for members and admins).
    if (route.url === '/api/v1/events/stream') continue;
    const url = route.url.replace(/:(\w+)/g, 'x');
    for (const who of ['anonymous', 'user', 'viewer', 'developer', 'owner', 'admin'] as const) {
      const headers = who === 'anonymous' ? {} : { authorization: `Bearer ${tokens[who]}` };
      // Deletes are not sent for real callers: they would remove the fixtures the other checks need.
      if (route.method === 'DELETE' && expected(route.permission, who) === 'allowed') continue;
      const res = await api.app.inject({
        method: route.method as 'GET',
        url,
        headers,
        ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: {} }),
      });
      const want = expected(route.permission, who);
      const where = `${route.method} ${route.url} as ${who}: ${res.statusCode} ${res.body.slice(0, 120)}`;
      if (want === 'unauthenticated') assert.equal(res.statusCode, 401, where);
      else if (want === 'forbidden') assert.equal(res.statusCode, 403, where);
      else assert.ok(res.statusCode !== 401 && res.statusCode !== 403, where);
    }
  }
});

test('every write that concerns an environment needs a role covering it: a role limited to staging cannot touch prod', async () => {
  const admin = caller(api.app, await api.tokenFor('boss', { admin: true }));
  assert.equal((await admin('POST', '/api/v1/projects', { name: 'envs' })).status, 201);
  await admin('POST', '/api/v1/registries', { name: 'envs-registry', url: 'http://127.0.0.1:5000' });
  await admin('PUT', '/api/v1/projects/envs/namespaces', { registry: 'envs-registry', prefix: 'envs/' });
  for (const env of ['staging', 'prod']) {
    const res = await admin('PUT', `/api/v1/projects/envs/environments/${env}`, {
      kind: 'repository',
      registry: 'envs-registry',
      repository: `envs/${env}/{app}`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  // One member per role, each limited to staging.
  const limited: Partial<Record<ProjectRole, string>> = {};
  for (const role of ['owner', 'promoter', 'developer', 'viewer'] as const) {
    const username = `staging-${role}`;
    limited[role] = await api.tokenFor(username);
    const res = await admin('POST', '/api/v1/projects/envs/members', { username, role, environments: ['staging'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const scoped = api.app.declaredRoutes.filter(
    (r) => r.permission.kind === 'project' && r.permission.environments !== undefined,
  );
  const kinds = new Set(scoped.map((r) => (r.permission.kind === 'project' ? r.permission.environments?.kind : '')));
  assert.deepEqual([...kinds].sort(), ['all', 'body', 'lookup', 'param'], 'every kind of scope is declared somewhere');
  let checked = 0;
  for (const route of scoped) {
    if (route.permission.kind !== 'project' || route.permission.environments === undefined) continue;
    const scope = route.permission.environments;
    // The lookup scope (a rule's target) needs a stored rule: test/api/governance.test.ts covers it.
    if (scope.kind === 'lookup') continue;
    const request = (env: string) => ({
      url: route.url.replace(/:(\w+)/g, (_, name: string) =>
        name === 'project' ? 'envs' : scope.kind === 'param' && name === scope.name ? env : 'x',
      ),
      payload: scope.kind === 'body' ? { [scope.field]: [env] } : {},
    });
    for (const role of route.permission.roles) {
      const send = async (env: string) => {
        const { url, payload } = request(env);
        return api.app.inject({
          method: route.method as 'GET',
          url,
          headers: { authorization: `Bearer ${limited[role]}` },
          ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload }),
        });
      };
      const denied = await send('prod');
      const where = `${route.method} ${route.url} as ${role} of staging`;
      assert.equal(denied.statusCode, 403, `${where} on prod: ${denied.statusCode} ${denied.body.slice(0, 160)}`);
      checked++;
      if (scope.kind === 'all' || route.method === 'DELETE') continue;
      const allowed = await send('staging');
      assert.ok(
        allowed.statusCode !== 403 && allowed.statusCode !== 401,
        `${where} on staging: ${allowed.statusCode} ${allowed.body.slice(0, 160)}`,
      );
    }
  }
  assert.ok(checked >= 15, `${checked} route × role checks`);
});

test('a route without a declared permission is refused at registration', async () => {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  app.addHook('onRoute', requireDeclaredPermission([]));
  assert.throws(() => app.get('/api/v1/oops', async () => ({})), /GET \/api\/v1\/oops declares no permission/);
  await app.close();
});

test('the environments a write concerns are checked as the route reads them: a number or boolean that validation turns into a name is that name', async () => {
  const admin = caller(api.app, await api.tokenFor('boss', { admin: true }));
  assert.equal((await admin('POST', '/api/v1/projects', { name: 'coerce' })).status, 201);
  await admin('POST', '/api/v1/registries', { name: 'coerce-registry', url: 'http://127.0.0.1:5000' });
  await admin('PUT', '/api/v1/projects/coerce/namespaces', { registry: 'coerce-registry', prefix: 'coerce/' });
  // Environment names that a JSON number or boolean becomes when validation coerces it to a string.
  for (const env of ['dev', 'staging', '2026', 'true']) {
    const res = await admin('PUT', `/api/v1/projects/coerce/environments/${env}`, {
      kind: 'repository',
      registry: 'coerce-registry',
      repository: `coerce/${env}/{app}`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  assert.equal((await admin('POST', '/api/v1/projects/coerce/applications', { name: 'web' })).status, 201);
  const owner = caller(api.app, await api.tokenFor('coerce-owner'));
  const developer = caller(api.app, await api.tokenFor('coerce-developer'));
  for (const role of ['owner', 'developer'] as const) {
    const res = await admin('POST', '/api/v1/projects/coerce/members', {
      username: `coerce-${role}`,
      role,
      environments: ['staging'],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const digest = `sha256:${'c'.repeat(64)}`;
  const attempts: Array<[Call, string, string, unknown]> = [
    [developer, 'POST', '/api/v1/projects/coerce/applications/web/promotions', { digest, from: 'dev', to: [2026] }],
    [developer, 'POST', '/api/v1/projects/coerce/applications/web/promotions', { digest, from: 'dev', to: [true] }],
    [owner, 'POST', '/api/v1/projects/coerce/rules', { name: 'sneak', from: 'dev', to: 2026, mode: 'promote' }],
    [owner, 'POST', '/api/v1/projects/coerce/rules', { name: 'sneak', from: 'dev', to: true, mode: 'promote' }],
  ];
  for (const [who, method, url, body] of attempts) {
    const res = await who(method, url, body);
    assert.equal(
      res.status,
      403,
      `${method} ${url} ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`,
    );
    assert.match(res.body.error.message, /environment "(2026|true)" of project "coerce"/);
  }
  // Nothing was made on the way.
  assert.deepEqual((await admin('GET', '/api/v1/projects/coerce/rules')).body.items, []);
  assert.deepEqual((await admin('GET', '/api/v1/projects/coerce/promotions')).body.items, []);
});
