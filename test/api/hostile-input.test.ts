/**
 * Hostile input gets the documented error shape, never a 500: NUL characters and lone surrogates in a body field, a
 * query parameter or a path parameter are a 400 naming the field; a URL that does not decode, and headers too large
 * for Node (431, answered before Fastify sees the request), have `{"error":{"code","message"}}` too; a database
 * outage (the real PostgreSQL stopped) is a 503 with Retry-After; an oversized declarative file is refused unread.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startPostgres } from '../harness/postgres.ts';
import { buildServer } from '../../src/api/server.ts';
import { createServices } from '../../src/api/services.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { openDatabase } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { parseConfig } from '../../src/config/config-file.ts';
import { MAX_YAML_BYTES } from '../../src/config/yaml-input.ts';

let api: TestApi;
let call: Call;
let token = '';
before(async () => {
  api = await startApi('pglite');
  token = await api.tokenFor('root', { admin: true });
  call = caller(api.app, token);
  assert.equal((await call('POST', '/api/v1/projects', { name: 'shop' })).status, 201);
});
after(() => api?.close());

const raw = (method: string, url: string, payload?: string) =>
  api.app.inject({
    method: method as 'POST',
    url,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(payload === undefined ? {} : { payload }),
  });

test('NUL and lone surrogates in a body field, a query parameter or a path parameter are a 400 naming the field', async () => {
  const cases: Array<[string, string, string | undefined, string, RegExp]> = [
    ['POST', '/api/v1/projects', '{"name":"web","description":"a\\u0000b"}', 'body.description', /NUL/],
    ['POST', '/api/v1/projects', '{"name":"web","description":"half \\ud800 pair"}', 'body.description', /surrogate/],
    ['PUT', '/api/v1/policies/gate', '{"passConditions":["true","x\\u0000"]}', 'body.passConditions[1]', /NUL/],
    ['POST', '/api/v1/projects', '{"name":"web","labels":{"a\\u0000":"b"}}', 'body.labels', /key .*NUL/],
    ['GET', '/api/v1/audit?objectType=%00', undefined, 'query.objectType', /NUL/],
    ['GET', '/api/v1/projects/sh%00op', undefined, 'params.project', /NUL/],
    ['POST', '/api/v1/projects/shop/applications', '{"name":"\\udfff"}', 'body.name', /surrogate/],
  ];
  for (const [method, url, payload, field, why] of cases) {
    const res = await raw(method, url, payload);
    const body = res.json();
    assert.equal(res.statusCode, 400, `${method} ${url} ${payload ?? ''}: ${res.body}`);
    assert.equal(body.error.details?.field, field, `${method} ${url}`);
    assert.match(body.error.message, why);
  }
  // A surrogate pair (an emoji) is Unicode, and fine.
  const ok = await raw('POST', '/api/v1/projects', '{"name":"emoji","description":"ship it \\ud83d\\ude80"}');
  assert.equal(ok.statusCode, 201, ok.body);
});

test('a value nested deeper than the limit is a 400 naming where, on any route, even where the schema takes any JSON', async () => {
  assert.equal((await call('POST', '/api/v1/registries', { name: 'nest', url: 'http://127.0.0.1:5000' })).status, 201);
  assert.equal(
    (await call('PUT', '/api/v1/projects/shop/namespaces', { registry: 'nest', prefix: 'shop/' })).status,
    200,
  );
  for (const env of ['dev', 'prod'])
    assert.equal(
      (
        await call('PUT', `/api/v1/projects/shop/environments/${env}`, {
          kind: 'repository',
          registry: 'nest',
          repository: `shop/${env}/{app}`,
        })
      ).status,
      200,
    );
  // A criterion's value is any JSON to the schema: 50,000 arrays deep it reached JSON.stringify and was a 500.
  const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
  const rule = (name: string) =>
    `{"name":"${name}","from":"dev","to":"prod","criteria":[{"field":"tag","op":"equals","value":${deep}}]}`;
  for (const url of ['/api/v1/projects/shop/rules', '/api/v1/projects/shop/rules/dry-run']) {
    const res = await raw('POST', url, rule('deep'));
    assert.equal(res.statusCode, 400, `${url}: ${res.body.slice(0, 300)}`);
    assert.equal(res.json().error.details?.field, `body.criteria[0].value${'[0]'.repeat(29)}`);
    assert.match(res.json().error.message, /nested deeper than 32 levels/);
  }
  // Deep objects too, and in a body no schema reads (a registry's event, before its secret is checked it is a 401).
  const objects = `{"name":"web","description":"x","labels":${'{"a":'.repeat(40)}"b"${'}'.repeat(40)}}`;
  const labelled = await raw('POST', '/api/v1/projects', objects);
  assert.equal(labelled.statusCode, 400, labelled.body.slice(0, 300));
  assert.match(labelled.json().error.message, /nested deeper than 32 levels/);
  // Thirty levels is within the limit: the criterion is refused for what it says, not for its depth.
  const within = await raw(
    'POST',
    '/api/v1/projects/shop/rules',
    rule('within').replace(deep, `${'['.repeat(28)}${']'.repeat(28)}`),
  );
  assert.equal(within.statusCode, 400, within.body.slice(0, 300));
  assert.doesNotMatch(within.json().error.message, /nested deeper/);
});

test('a session cookie that does not decode is no credential: a 401 in the documented shape, never a 500', async () => {
  for (const value of ['%', '%E0%A4%A', 'abc%ZZ']) {
    for (const url of ['/api/v1/me', '/api/v1/projects', '/healthz']) {
      const res = await api.app.inject({ method: 'GET', url, headers: { cookie: `hoist_session=${value}` } });
      const where = `${url} with hoist_session=${value}: ${res.statusCode} ${res.body.slice(0, 200)}`;
      assert.equal(res.statusCode, url === '/healthz' ? 200 : 401, where);
      if (url !== '/healthz') assert.equal(res.json().error.code, 'UNAUTHENTICATED', where);
    }
  }
  // A token still counts beside a cookie that does not decode.
  const both = await api.app.inject({
    method: 'GET',
    url: '/api/v1/me',
    headers: { cookie: 'hoist_session=%', authorization: `Bearer ${token}` },
  });
  assert.equal(both.statusCode, 200, both.body);
});

test('a URL that does not decode has the documented error shape', async () => {
  const res = await raw('GET', '/api/v1/projects/%E0%A4%A');
  assert.equal(res.statusCode, 400);
  assert.deepEqual(Object.keys(res.json()), ['error']);
  assert.equal(res.json().error.code, 'BAD_REQUEST');
});

test("Node's 431 for headers too large has the documented error shape", async () => {
  const address = await api.app.listen({ port: 0, host: '127.0.0.1' });
  const port = Number(new URL(address).port);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
  });
  const [head, body] = answer.split('\r\n\r\n');
  assert.match(head ?? '', /^HTTP\/1\.1 431 /);
  assert.match(head ?? '', /content-type: application\/json/i);
  assert.deepEqual(JSON.parse(body ?? '{}'), {
    error: { code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' },
  });
});

test('a database outage is a 503 with Retry-After, and the server answers again when it is back', async () => {
  const pg = await startPostgres();
  const url = await pg.createDatabase();
  const database = await openDatabase({ url });
  await migrate(database.db as never);
  const services = createServices(database, new SecretBox(randomBytes(32)));
  await services.accounts.bootstrapAdmin('outage-password');
  const app = await buildServer(services, { web: false });
  try {
    const user = await services.accounts.createUser(
      { username: 'test' },
      { username: 'ops', password: 'ops-password', isAdmin: true },
    );
    const t = await services.accounts.createToken({ userId: user.id, username: 'ops' }, 'ops');
    const get = () =>
      app.inject({ method: 'GET', url: '/api/v1/projects', headers: { authorization: `Bearer ${t.token}` } });
    assert.equal((await get()).statusCode, 200);
    await pg.stop();
    const down = await get();
    assert.equal(down.statusCode, 503, down.body);
    assert.equal(down.headers['retry-after'], '5');
    assert.equal(down.json().error.code, 'DATABASE_UNAVAILABLE');
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'alive, if not ready');
  } finally {
    await app.close();
    await database.close().catch(() => undefined);
    await pg.stop();
  }
});

test('a declarative file over the size limit is refused before it is parsed', () => {
  const big = `projects:\n${'  - name: p\n'.repeat(Math.ceil(MAX_YAML_BYTES / 12) + 10)}`;
  const parsed = parseConfig(big, 'big.yaml');
  assert.equal(parsed.ok, false);
  assert.match(
    parsed.ok ? '' : parsed.error,
    /^big\.yaml:1:1: the file is larger than the limit of 4 MiB for a YAML file$/,
  );
  assert.equal(parseConfig('registries: []\n', 'small.yaml').ok, true);
});
