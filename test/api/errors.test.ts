/**
 * Every error has hoist's shape `{"error": {"code", "message", "details"?}}` with a hoist code, whatever refused the
 * request: a body that is not JSON, a content type no route takes, a route that does not exist, a method the route
 * does not have. Push hooks check the secret before they read the body. A 403 says whether a role would lift it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/client/index.ts';
import { describeError } from '../../src/cli/exit-codes.ts';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
const image = buildImage({ layers: [900] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '3.0' });
});
after(() => reg?.stop());

/** The documented shape, and nothing of Fastify's own codes. */
function assertShape(res: { statusCode: number; body: string }, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  const body = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } };
  assert.deepEqual(Object.keys(body), ['error'], res.body);
  assert.equal(body.error?.code, code, res.body);
  assert.equal(typeof body.error?.message, 'string');
  assert.doesNotMatch(res.body, /FST_/);
}

test('the CLI hints at a role only where a role would help', () => {
  const needsRole = describeError(new ApiError(403, 'FORBIDDEN', 'this needs the admin role', { roleHelps: true }));
  assert.match(needsRole, /hint: ask a project owner or an admin for the role/);
  const duty = describeError(
    new ApiError(403, 'FORBIDDEN', 'staging: the requester may not approve', { roleHelps: false }),
  );
  assert.doesNotMatch(duty, /hint/);
});

for (const backend of BACKENDS) {
  void describe(`error shapes [${backend}]`, () => {
    let api: TestApi;
    let token: string;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const P = '/api/v1/projects/shop';
    before(async () => {
      api = await startApi(backend);
      token = await api.tokenFor('root', { admin: true });
      const tokens: Record<string, string> = {
        root: token,
        devon: await api.tokenFor('devon'),
        pat: await api.tokenFor('pat'),
        vera: await api.tokenFor('vera'),
      };
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'staging'])
        await as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: `${env}/` });
      for (const env of ['dev', 'staging'])
        await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] });
      await as('root', 'POST', `${P}/members`, { username: 'devon', role: 'developer' });
      await as('root', 'POST', `${P}/members`, { username: 'pat', role: 'promoter' });
      await as('root', 'POST', `${P}/members`, { username: 'vera', role: 'viewer' });
      await as('root', 'POST', '/api/v1/policies', { name: 'gate', approverCount: 1 });
      await as('root', 'POST', '/api/v1/policies/gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
    });
    after(() => api?.close());

    const send = (method: string, url: string, payload?: string, contentType = 'application/json') =>
      api.app.inject({
        method: method as 'POST',
        url,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload !== undefined ? { 'content-type': contentType } : {}),
        },
        ...(payload !== undefined ? { payload } : {}),
      });

    test('invalid JSON sent as application/json is a 400 in hoist shape', async () => {
      assertShape(await send('POST', '/api/v1/projects', '{"name": "x",'), 400, 'INVALID_JSON');
    });

    test('a content type no route takes is a 415 in hoist shape', async () => {
      assertShape(
        await send('POST', '/api/v1/projects', 'name=x', 'application/x-www-form-urlencoded'),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
    });

    test('a route that does not exist is a 404, a method the route does not have a 405 with Allow', async () => {
      assertShape(await send('GET', '/api/v1/nowhere'), 404, 'NOT_FOUND');
      const res = await send('PATCH', '/api/v1/projects');
      assertShape(res, 405, 'METHOD_NOT_ALLOWED');
      assert.match(String(res.headers.allow), /GET/);
      assert.match(String(res.headers.allow), /POST/);
    });

    test('a hook with a wrong secret and a malformed body gets 401 and learns nothing about the body', async () => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/api/v1/hooks/distribution',
        headers: {
          authorization: 'Bearer not-the-secret-at-all',
          'content-type': 'application/vnd.docker.distribution.events.v1+json',
        },
        payload: '{"events": [',
      });
      assertShape(res, 401, 'UNAUTHENTICATED');
      assert.doesNotMatch(res.body, /JSON|body|events/i);
      const none = await api.app.inject({
        method: 'POST',
        url: '/api/v1/hooks/generic',
        headers: { 'content-type': 'application/json' },
        payload: 'nope',
      });
      assertShape(none, 401, 'UNAUTHENTICATED');
      assert.match(JSON.parse(none.body).error.message, /hoist registry set-hook-secret REGISTRY --kind generic/);
    });

    test('a refusal no role lifts says so; a missing role says a role helps', async () => {
      const r = await as('pat', 'POST', `${P}/applications/web/promotions`, {
        tag: '3.0',
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const self = await as('pat', 'POST', `${P}/promotions/${r.body.id}/approve`, {});
      assert.equal(self.status, 403, JSON.stringify(self.body));
      assert.equal(self.body.error.details.roleHelps, false);
      const cancel = await as('devon', 'POST', `${P}/promotions/${r.body.id}/cancel`, {});
      assert.equal(cancel.status, 403, JSON.stringify(cancel.body));
      assert.equal(cancel.body.error.details.roleHelps, false);
      const viewer = await as('vera', 'POST', `${P}/promotions/${r.body.id}/approve`, {});
      assert.equal(viewer.status, 403, JSON.stringify(viewer.body));
      assert.equal(viewer.body.error.details.roleHelps, true);
    });
  });
}
