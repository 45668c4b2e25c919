/**
 * Every route × every kind of caller: anonymous callers get 401 where an identity is needed, signed-in users without
 * the role get 403, admins get through. The routes come from the server itself, so a new route is covered (and a
 * route without a declared permission cannot even be registered).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { requireDeclaredPermission } from '../../src/api/server.ts';
import { startApi, type TestApi } from '../helpers/api.ts';
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

test('a route without a declared permission is refused at registration', async () => {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  app.addHook('onRoute', requireDeclaredPermission([]));
  assert.throws(() => app.get('/api/v1/oops', async () => ({})), /GET \/api\/v1\/oops declares no permission/);
  await app.close();
});
