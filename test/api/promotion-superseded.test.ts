/**
 * The tag never moves back, on both backends, through the runner's one fence statement before the tag write (the
 * claim renewed, the newer-promotion check and the project's webhooks read at once): an older request whose target
 * runs after a newer request of the same application wrote the same tag in the same environment (the second actor)
 * copies its bytes but ends FAILED as superseded, the tag left on the newer image, nothing audited as promoted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
const older = buildImage({ layers: [1200] });
const newer = buildImage({ layers: [1300] });
before(async () => {
  reg = await startRegistry();
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`a superseded promotion [${backend}]`, () => {
    let api: TestApi;
    let call: Call;
    const P = '/api/v1/projects/shop';
    before(async () => {
      api = await startApi(backend);
      call = caller(api.app, await api.tokenFor('root', { admin: true }));
      await call('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await call('POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'live/']) await call('PUT', `${P}/namespaces`, { registry: 'local', prefix });
      await call('POST', `${P}/applications`, { name: 'web' });
      await call('PUT', `${P}/environments/dev`, { kind: 'repository', registry: 'local', repository: 'dev/{app}' });
      await call('PUT', `${P}/environments/live`, { kind: 'repository', registry: 'local', repository: 'live/{app}' });
      await call('PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'live' }] });
      // Both builds were tagged `stable` in dev, one after the other.
      for (const build of [older, newer]) {
        await pushImage(reg.url, 'dev/web', build, { tag: 'stable' });
        const r = await call('POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:stable` });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });
    after(() => api?.close());

    test('the older request, carried out after the newer one wrote the tag, fails as superseded and moves nothing', async () => {
      const ask = async (digest: string) => {
        const r = await call('POST', `${P}/applications/web/promotions`, {
          digest,
          from: 'dev',
          to: ['live'],
          tag: 'stable',
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        assert.equal(r.body.targets[0].state, 'QUEUED');
        return r.body as { id: string; targets: Array<{ id: string }> };
      };
      const first = await ask(older.digest);
      await new Promise((r) => setTimeout(r, 5)); // requested strictly later
      const second = await ask(newer.digest);
      // The older one waits (as if its runner were slow): the newer one is carried out first.
      await sql`UPDATE promotion_targets SET run_after = now() + interval '1 hour' WHERE request_id = ${first.id}`.execute(
        api.database.db,
      );
      assert.equal(await api.services.runner.runOne(), true);
      assert.equal((await call('GET', `${P}/promotions/${second.id}`)).body.targets[0].state, 'PROMOTED');
      const head = async () =>
        (
          await fetch(`${reg.url}/v2/live/web/manifests/stable`, {
            method: 'HEAD',
            headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
          })
        ).headers.get('docker-content-digest');
      assert.equal(await head(), newer.digest);
      await sql`UPDATE promotion_targets SET run_after = NULL WHERE request_id = ${first.id}`.execute(api.database.db);
      assert.equal(await api.services.runner.runOne(), true);
      const done = (await call('GET', `${P}/promotions/${first.id}`)).body;
      assert.equal(done.targets[0].state, 'FAILED');
      const reason = (done.targets[0].reasons as string[]).join('; ');
      assert.match(reason, /^superseded: live's tag stable already names /);
      assert.match(reason, new RegExp(`written by a newer promotion \\(${second.id}\\)`));
      assert.equal(await head(), newer.digest, 'the tag stays on the newer image');
      const promoted = await api.database.db
        .selectFrom('audit_log')
        .select('object_id')
        .where('action', '=', 'promotion.promoted')
        .execute();
      assert.deepEqual(
        promoted.map((e) => e.object_id),
        [second.id],
      );
    });
  });
}
