/**
 * An image that is in an environment's repository but was never registered can be promoted: the request reads it
 * from the registry and registers it on first use (by the requester, audited), on both backends. A tag the registry
 * does not have either is a 404 that says so, and a caller who may not promote registers nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
const image = buildImage({ layers: [1500] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: 'x' });
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`register on first use [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    let tokenOf: (who: string) => string;
    const P = '/api/v1/projects/shop';
    before(async () => {
      api = await startApi(backend);
      const tokens: Record<string, string> = {
        root: await api.tokenFor('root', { admin: true }),
        devon: await api.tokenFor('devon'),
        vera: await api.tokenFor('vera'),
      };
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      tokenOf = (who) => tokens[who] ?? '';
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'staging/', 'prod/'])
        await as('root', 'PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'staging'])
        await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] });
      await as('root', 'POST', `${P}/members`, { username: 'devon', role: 'developer' });
      await as('root', 'POST', `${P}/members`, { username: 'vera', role: 'viewer' });
    });
    after(() => api?.close());

    test('a viewer may not promote, and the refused request registers nothing', async () => {
      const r = await as('vera', 'POST', `${P}/applications/web/promotions`, {
        tag: 'x',
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(r.status, 403, JSON.stringify(r.body));
      const a = await as('root', 'GET', `${P}/applications/web/artifacts/${image.digest}`);
      assert.equal(a.status, 404);
    });

    test('an image in the registry but never registered is read, registered by the requester, and promoted', async () => {
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: 'x',
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.digest, image.digest);
      assert.equal(r.body.targets[0].state, 'QUEUED');
      const a = await as('root', 'GET', `${P}/applications/web/artifacts/${image.digest}`);
      assert.equal(a.status, 200);
      assert.equal(a.body.registeredBy, 'devon');
      assert.deepEqual(
        a.body.environments.map((e: { environment: string; tag: string }) => [e.environment, e.tag]),
        [['dev', 'x']],
      );
      const audit = await as('root', 'GET', '/api/v1/audit?objectType=artifact&limit=1000');
      assert.ok(
        audit.body.items.some(
          (e: { actor: string; action: string; objectId: string }) =>
            e.actor === 'devon' && e.action === 'artifact.register' && e.objectId.endsWith(image.digest),
        ),
        JSON.stringify(audit.body),
      );
    });

    test('with an Idempotency-Key, an image registered on first use is requested once; the key sent again answers it', async () => {
      const other = buildImage({ layers: [900] });
      await pushImage(reg.url, 'dev/web', other, { tag: 'idem' });
      const send = () =>
        api.app.inject({
          method: 'POST',
          url: `${P}/applications/web/promotions`,
          headers: { authorization: `Bearer ${tokenOf('devon')}`, 'idempotency-key': 'first-use-key-1' },
          payload: { tag: 'idem', from: 'dev', to: ['staging'] },
        });
      const first = await send();
      assert.equal(first.statusCode, 201, first.body);
      const again = await send();
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(JSON.parse(again.body).id, JSON.parse(first.body).id);
      assert.equal(
        (await as('root', 'GET', `${P}/promotions?limit=1000`)).body.items.filter(
          (p: { digest: string }) => p.digest === other.digest,
        ).length,
        1,
      );
    });

    test('a tag that the registry does not have either is a 404 that says where hoist looked', async () => {
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: 'nope',
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.match(r.body.error.message, new RegExp(`${reg.host}/dev/web:nope is not in the registry either`));
    });
  });
}
