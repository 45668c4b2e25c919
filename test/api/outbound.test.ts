/**
 * Outbound requests go only where an admin allows, through the API: a project owner cannot point a webhook at a
 * metadata, private or loopback address in any spelling (this server allows loopback only, as the tests' registries
 * need), an admin cannot register a registry there either, and a delivery that cannot connect tells the owner only
 * that it could not deliver — not whether the port was closed — while the server log has the reason.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { freePort } from '../harness/free-port.ts';

let api: TestApi;
let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
const logged: Array<{ obj: object; msg: string }> = [];
const P = '/api/v1/projects/shop';

before(async () => {
  api = await startApi('pglite', { log: { warn: (obj, msg) => logged.push({ obj, msg }) } });
  const tokens: Record<string, string> = {
    root: await api.tokenFor('root', { admin: true }),
    olga: await api.tokenFor('olga'),
  };
  as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
  await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
  await as('root', 'POST', `${P}/members`, { username: 'olga', role: 'owner' });
});
after(() => api?.close());

test('an owner cannot point a webhook at a metadata, private or reserved address, in any spelling', async () => {
  for (const url of [
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/',
    'http://[fd00::1]/',
    'http://[fd00:ec2::254]/',
    'http://[::ffff:169.254.169.254]/',
    'http://100.100.100.200/',
    'http://hooks.example.com:99999/',
    'https://ci:token@hooks.example.com/',
  ]) {
    const r = await as('olga', 'POST', `${P}/webhooks`, { url });
    assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.details.field, 'url', url);
  }
  // 2130706433 and 0x7f000001 are 127.0.0.1, which this server allows (its admin listed loopback).
  const loop = await as('olga', 'POST', `${P}/webhooks`, { url: 'http://0x7f000001:5000/hook' });
  assert.equal(loop.status, 201, JSON.stringify(loop.body));
  assert.equal(loop.body.url, 'http://127.0.0.1:5000/hook', 'the address it connects to is the one shown');
  await as('olga', 'DELETE', `${P}/webhooks/${loop.body.id}`);
});

test('registries are admin-only and follow the same policy', async () => {
  assert.equal(
    (await as('olga', 'POST', '/api/v1/registries', { name: 'mine', url: 'http://127.0.0.1:5000' })).status,
    403,
  );
  for (const url of [
    'http://169.254.169.254',
    '10.0.0.1:5000',
    'http://[fe80::1]:5000',
    'https://2852039166',
    'x.example:99999',
  ]) {
    const r = await as('root', 'POST', '/api/v1/registries', { name: 'meta', url });
    assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.details.field, 'url');
  }
  assert.equal(
    (await as('root', 'POST', '/api/v1/registries', { name: 'local', url: 'http://127.0.0.1:5000' })).status,
    201,
  );
});

test('a delivery that cannot connect says only that it could not deliver; the server log has why', async () => {
  const closed = await freePort();
  const made = await as('olga', 'POST', `${P}/webhooks`, { url: `http://127.0.0.1:${closed}/hook` });
  assert.equal(made.status, 201);
  await api.database.db
    .insertInto('notification_deliveries')
    .values({
      id: 'd-closed-port',
      kind: 'webhook',
      webhook_id: made.body.id,
      recipients: null,
      event: 'promotion.requested',
      payload: JSON.stringify({ event: 'promotion.requested' }),
      state: 'PENDING',
      attempts: 0,
      run_after: new Date(0),
      created_at: new Date(),
    } as never)
    .execute();
  assert.equal(await api.services.dispatcher.sendOne(), true);
  const deliveries = await as('olga', 'GET', `${P}/webhooks/${made.body.id}/deliveries`);
  const d = deliveries.body.items[0] as { state: string; lastError: string; lastStatus: number | null };
  assert.equal(d.state, 'PENDING', 'retried later');
  assert.equal(d.lastStatus, null);
  assert.match(d.lastError, /could not deliver/);
  assert.doesNotMatch(d.lastError, /ECONNREFUSED|refused|timed out|reset/i);
  const line = logged.find((l) => l.msg === 'webhook not delivered');
  assert.match(JSON.stringify(line?.obj), /ECONNREFUSED/);
});
