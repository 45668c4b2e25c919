/**
 * Releases on both backends, against two real registries (dev on one, prod on the other, each behind a recording,
 * fault-injecting proxy): a release of three applications made from the pairs or from what dev holds; promoted in
 * one request that waits for the one approval the strictest policy asks for (not from its requester: separation of
 * duties holds for every application), then PROMOTED with every tag in prod, one history entry and one audit entry
 * listing every digest; one application's source blob unreadable → the target is FAILED naming it and no tag in
 * prod moved; two promoters approving at once queue it once; a second worker taking a target over after the first
 * copied everything writes each tag once and the first, resumed, writes none; a policy refusal names the application.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { useRegistryPair } from '../helpers/registry-pair.ts';
import { buildImage, type TestManifest } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';
import { PromotionRunner } from '../../src/service/promotion-runner.ts';
import { Outbox } from '../../src/service/outbox.ts';

const APPS = ['api', 'web', 'worker'] as const;
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json';
const pair = useRegistryPair();

for (const [b, backend] of BACKENDS.entries()) {
  void describe(`releases [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const P = '/api/v1/projects/shop';
    // Repositories of their own per backend: the registries are shared by both.
    const ns = backend;
    let build = 0;
    /** A new image per application, pushed to dev under `tag` and registered. */
    const newImages = async (tag: string): Promise<Record<string, TestManifest>> => {
      const out: Record<string, TestManifest> = {};
      for (const app of APPS) {
        const image = buildImage({ layers: [5000 + 100 * b + build++] });
        await pushImage(pair.a.url, `${ns}/dev/${app}`, image, { tag });
        const r = await as('root', 'POST', `${P}/applications/${app}/artifacts`, {
          reference: `${pair.pa.host}/${ns}/dev/${app}:${tag}`,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        out[app] = image;
      }
      return out;
    };
    const prodTag = async (app: string, tag: string): Promise<string | null> =>
      (
        await fetch(`${pair.b.url}/v2/${ns}/prod/${app}/manifests/${tag}`, {
          method: 'HEAD',
          headers: { accept: ACCEPT },
        })
      ).headers.get('docker-content-digest');
    const tagWrites = (tag: string): number =>
      pair.pb.requests.filter(
        (r) => r.method === 'PUT' && new RegExp(`^/v2/${ns}/prod/[a-z]+/manifests/${tag}$`).test(r.path),
      ).length;
    const release = (name: string, images: Record<string, TestManifest>) =>
      as('devon', 'POST', `${P}/releases`, {
        name,
        applications: APPS.map((app) => ({ application: app, digest: images[app]?.digest })),
      });
    const state = async (id: string) => (await as('devon', 'GET', `${P}/promotions/${id}`)).body.targets[0];

    before(async () => {
      api = await startApi(backend, { promotionRetry: { forMs: 0 } });
      const tokens: Record<string, string> = {};
      for (const u of ['devon', 'pat', 'pia']) tokens[u] = await api.tokenFor(u);
      tokens.root = await api.tokenFor('root', { admin: true });
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'one', url: `http://${pair.pa.host}` });
      await as('root', 'POST', '/api/v1/registries', { name: 'two', url: `http://${pair.pb.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      for (const app of APPS) await as('root', 'POST', `${P}/applications`, { name: app });
      await as('root', 'PUT', `${P}/namespaces`, { registry: 'one', prefix: `${ns}/dev/` });
      await as('root', 'PUT', `${P}/namespaces`, { registry: 'two', prefix: `${ns}/prod/` });
      for (const [env, registry] of [
        ['dev', 'one'],
        ['prod', 'two'],
      ] as const) {
        const r = await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry,
          repository: `${ns}/${env}/{app}`,
        });
        assert.ok(r.status < 300, JSON.stringify(r.body));
      }
      await as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'prod' }] });
      await as('root', 'POST', `${P}/members`, { username: 'devon', role: 'promoter' });
      await as('root', 'POST', `${P}/members`, { username: 'pat', role: 'promoter' });
      await as('root', 'POST', `${P}/members`, { username: 'pia', role: 'promoter' });
      // Only api's policy asks for an approval; the release waits for it, and its requester may not give it.
      await as('root', 'POST', '/api/v1/policies', { name: `api-prod-${b}`, approverCount: 1 });
      await as('root', 'POST', `/api/v1/policies/api-prod-${b}/apply`, {
        applicationEnvironments: [{ project: 'shop', application: 'api', environment: 'prod' }],
      });
      // The runner is run by hand (runOne), so that what happens when is the test's to say.
      await api.services.runner.stop();
    });
    after(() => api?.close());

    test('a release of three applications: one request, approved once (not by its requester), all tags, one history entry', async () => {
      const images = await newImages('1');
      const made = await release('shop-1.0', images);
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.deepEqual(
        made.body.applications.map((a: { application: string }) => a.application),
        ['api', 'web', 'worker'],
      );
      assert.equal((await release('shop-1.0', images)).status, 409, 'a name is used once per project');
      const fromDev = await as('devon', 'POST', `${P}/releases`, { name: 'dev-now', from: 'dev' });
      assert.equal(fromDev.status, 201, JSON.stringify(fromDev.body));
      assert.deepEqual(
        fromDev.body.applications.map((a: { digest: string }) => a.digest),
        APPS.map((app) => images[app]?.digest),
        'what dev holds now',
      );

      const asked = await as('devon', 'POST', `${P}/releases/shop-1.0/promotions`, { from: 'dev', to: ['prod'] });
      assert.equal(asked.status, 201, JSON.stringify(asked.body));
      const id = asked.body.id as string;
      assert.equal(asked.body.release.name, 'shop-1.0');
      assert.equal(asked.body.release.applications.length, 3);
      const waiting = asked.body.targets[0];
      assert.equal(waiting.state, 'AWAITING_APPROVAL');
      assert.equal(waiting.approvalsNeeded, 1);
      assert.deepEqual(waiting.blockedBy[0].eligible, ['pat', 'pia'], 'not the requester');

      const waitingBoard = await as('devon', 'GET', `${P}/board`);
      for (const row of waitingBoard.body.applications) {
        const prod = row.cells.find((c: { environment: string }) => c.environment === 'prod');
        assert.deepEqual(
          prod.pending.map((p: { request: string; release: string; digest: string }) => [
            p.request,
            p.release,
            p.digest,
          ]),
          [[id, 'shop-1.0', images[row.name]?.digest]],
          `${row.name} waits for the release`,
        );
      }

      const own = await as('devon', 'POST', `${P}/promotions/${id}/approve`, {});
      assert.equal(own.status, 403, JSON.stringify(own.body));
      assert.match(own.body.error.message, /^api: prod: you requested this promotion/);
      const approved = await as('pat', 'POST', `${P}/promotions/${id}/approve`, {});
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.equal(approved.body.targets[0].state, 'QUEUED');

      const before = tagWrites('1');
      assert.equal(await api.services.runner.runOne(), true);
      const done = await state(id);
      assert.equal(done.state, 'PROMOTED', JSON.stringify(done));
      for (const app of APPS) assert.equal(await prodTag(app, '1'), images[app]?.digest, `${app} in prod`);
      assert.equal(tagWrites('1') - before, 3, 'each tag written once');

      const history = await as('devon', 'GET', `${P}/history?env=prod`);
      const entries = history.body.items.filter((e: { request: string }) => e.request === id);
      assert.equal(entries.length, 1, 'one history entry');
      assert.deepEqual(
        entries[0].release.applications.map((a: { application: string; digest: string }) => [a.application, a.digest]),
        APPS.map((app) => [app, images[app]?.digest]),
      );
      assert.equal(entries[0].approvals[0].username, 'pat');
      // Found by any of its applications and digests, not only the first's.
      const byApp = await as('devon', 'GET', `${P}/history?app=worker`);
      assert.ok(
        byApp.body.items.some((e: { request: string }) => e.request === id),
        'history --app worker',
      );
      const byDigest = await as('devon', 'GET', `${P}/history?digest=${images.worker?.digest ?? ''}`);
      assert.deepEqual(
        byDigest.body.items.map((e: { request: string }) => e.request),
        [id],
      );
      const audit = await as('root', 'GET', `/api/v1/audit?objectType=promotion&objectId=${id}`);
      const promoted = audit.body.items.filter((e: { action: string }) => e.action === 'promotion.promoted');
      assert.equal(promoted.length, 1, 'one audit entry');
      assert.deepEqual(Object.keys(promoted[0].summary.applications), [...APPS]);
      // The deploy gate knows every digest of the release, not only the first's.
      const gate = await as('devon', 'GET', `${P}/environments/prod/deployable?digest=${images.worker?.digest ?? ''}`);
      assert.equal(gate.body.allowed, true, JSON.stringify(gate.body));
      // The board: every application's prod cell says the release brought it.
      const board = await as('devon', 'GET', `${P}/board`);
      assert.equal(board.status, 200, JSON.stringify(board.body));
      for (const row of board.body.applications) {
        const prod = row.cells.find((c: { environment: string }) => c.environment === 'prod');
        assert.deepEqual(
          [prod.current.digest, prod.current.request, prod.current.release, prod.current.by],
          [images[row.name]?.digest, id, 'shop-1.0', 'devon'],
          row.name,
        );
      }
      const shown = await as('devon', 'GET', `${P}/releases/shop-1.0`);
      assert.deepEqual(
        shown.body.promotions.map((p: { id: string; targets: Array<{ state: string }> }) => [
          p.id,
          p.targets[0]?.state,
        ]),
        [[id, 'PROMOTED']],
      );
      const listed = await as('devon', 'GET', `${P}/releases`);
      assert.deepEqual(
        listed.body.items.map((r: { name: string }) => r.name),
        ['dev-now', 'shop-1.0'],
      );
    });

    test('one source blob unreadable: the target is FAILED naming the application, and no tag in prod moves', async () => {
      // prod's tag 2 names an earlier release's images.
      const earlier = await newImages('2');
      await release('shop-2.0-earlier', earlier);
      const first = await as('devon', 'POST', `${P}/releases/shop-2.0-earlier/promotions`, {
        from: 'dev',
        to: ['prod'],
      });
      await as('pat', 'POST', `${P}/promotions/${first.body.id}/approve`, {});
      await api.services.runner.runOne();
      assert.equal((await state(first.body.id)).state, 'PROMOTED');

      const images = await newImages('2');
      await release('shop-2.0', images);
      const layer = images.worker?.blobs[1]?.digest ?? '';
      pair.pa.addFault({
        method: 'GET',
        pathMatch: new RegExp(`/blobs/${layer}$`),
        action: { kind: 'status', status: 404, body: '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}' },
        times: Infinity,
      });
      const asked = await as('devon', 'POST', `${P}/releases/shop-2.0/promotions`, { from: 'dev', to: ['prod'] });
      assert.equal(asked.status, 201, JSON.stringify(asked.body));
      await as('pat', 'POST', `${P}/promotions/${asked.body.id}/approve`, {});
      const writes = tagWrites('2');
      await api.services.runner.runOne();
      const failed = await state(asked.body.id);
      assert.equal(failed.state, 'FAILED', JSON.stringify(failed));
      assert.match(failed.reasons.join('; '), /^worker: copy to prod failed, so no tag of the release was written/);
      assert.equal(tagWrites('2'), writes, 'no tag written');
      for (const app of APPS) assert.equal(await prodTag(app, '2'), earlier[app]?.digest, `${app} in prod unchanged`);
      const history = await as('devon', 'GET', `${P}/history?env=prod`);
      const entry = history.body.items.find((e: { request: string }) => e.request === asked.body.id);
      assert.equal(entry.state, 'FAILED');
      assert.equal(entry.release.name, 'shop-2.0');
      const retried = await as('devon', 'POST', `${P}/promotions/${asked.body.id}/retry`, {});
      assert.equal(retried.status, 409, JSON.stringify(retried.body));
      assert.match(retried.body.error.message, /promote the release again/);
    });

    test('two promoters approving at once: queued once; a policy refusal names the application', async () => {
      const images = await newImages('3');
      await release('shop-3.0', images);
      const asked = await as('devon', 'POST', `${P}/releases/shop-3.0/promotions`, { from: 'dev', to: ['prod'] });
      const answers = await Promise.all(
        ['pat', 'pia'].map((who) => as(who, 'POST', `${P}/promotions/${asked.body.id}/approve`, {})),
      );
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409]);
      assert.equal((await state(asked.body.id)).state, 'QUEUED');

      await as('root', 'POST', '/api/v1/policies', {
        name: `web-no-3-${b}`,
        failConditions: ['image.tag == "3"'],
      });
      await as('root', 'POST', `/api/v1/policies/web-no-3-${b}/apply`, {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
      });
      const again = await as('devon', 'POST', `${P}/releases/shop-3.0/promotions`, { from: 'dev', to: ['prod'] });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      const refused = again.body.targets[0];
      assert.equal(refused.state, 'REJECTED');
      assert.ok(
        refused.reasons.some((r: string) => r.startsWith('web: ')),
        JSON.stringify(refused.reasons),
      );
      // The queued release was decided before that policy applied to web → prod: it fails closed, STALE with the
      // reason, and the runner never carries it out (the release is promoted again under the rules in force).
      const stale = await state(asked.body.id);
      assert.equal(stale.state, 'STALE');
      assert.match((stale.reasons ?? []).join('; '), new RegExp(`policy web-no-3-${b}.*web of release shop-3\\.0`));
      await as('root', 'DELETE', `/api/v1/policies/web-no-3-${b}?force=true`);
      await api.services.runner.runOne();
      assert.equal((await state(asked.body.id)).state, 'STALE');
    });

    test('a policy change on one application makes the release waiting for approval STALE; it cannot be approved', async () => {
      const images = await newImages('5');
      await release('shop-5.0', images);
      const asked = await as('devon', 'POST', `${P}/releases/shop-5.0/promotions`, { from: 'dev', to: ['prod'] });
      assert.equal((await state(asked.body.id)).state, 'AWAITING_APPROVAL');
      // A looser policy (no approval at all) must not let it through with the approvals it was asked under missing.
      const updated = await as('root', 'PUT', `/api/v1/policies/api-prod-${b}`, { approverCount: 0 });
      assert.ok(updated.status < 300, JSON.stringify(updated.body));
      const stale = await state(asked.body.id);
      assert.equal(stale.state, 'STALE', JSON.stringify(stale));
      assert.match((stale.reasons ?? []).join('; '), /api of release shop-5\.0/);
      const approve = await as('pat', 'POST', `${P}/promotions/${asked.body.id}/approve`, {});
      assert.equal(approve.status, 409, JSON.stringify(approve.body));
      await as('root', 'PUT', `/api/v1/policies/api-prod-${b}`, { approverCount: 1 });
    });

    test('a second worker takes over a copied target: each tag written once, the first worker writes none', async () => {
      const images = await newImages('4');
      await release('shop-4.0', images);
      const asked = await as('devon', 'POST', `${P}/releases/shop-4.0/promotions`, { from: 'dev', to: ['prod'] });
      await as('pat', 'POST', `${P}/promotions/${asked.body.id}/approve`, {});
      const targetId = (
        await sql<{ id: string }>`SELECT id FROM promotion_targets WHERE request_id = ${asked.body.id}`.execute(
          api.database.db,
        )
      ).rows[0]?.id;
      let resume: () => void = () => {};
      const held = new Promise<void>((r) => (resume = r));
      let copied: () => void = () => {};
      const reached = new Promise<void>((r) => (copied = r));
      const first = new PromotionRunner(
        api.database.db,
        api.services.registries,
        {
          // Stalled means it renews nothing either: with a lease this long its renewal timer (a third of the lease)
          // does not run while the test lets the lease lapse by hand (with 1.5 s it ran in between under load, and
          // the second runner found the target still held).
          leaseMs: 600_000,
          releaseHooks: {
            afterCopy: async () => {
              copied();
              await held;
            },
          },
        },
        new Outbox(false),
      );
      const running = first.runOne();
      await reached;
      // The first worker stalls (its lease lapses); the second claims the target and finds it copied.
      await sql`UPDATE promotion_targets SET lease_until = now() - interval '1 second' WHERE id = ${targetId}`.execute(
        api.database.db,
      );
      const writes = tagWrites('4');
      const uploads = pair.pb.requests.filter((r) => r.method === 'POST').length;
      assert.equal(await api.services.runner.runOne(), true);
      assert.equal((await state(asked.body.id)).state, 'PROMOTED');
      assert.equal(tagWrites('4') - writes, 3, 'each tag once');
      assert.equal(pair.pb.requests.filter((r) => r.method === 'POST').length, uploads, 'nothing copied again');
      resume();
      await running;
      assert.equal(tagWrites('4') - writes, 3, 'the first worker wrote no tag');
      for (const app of APPS) assert.equal(await prodTag(app, '4'), images[app]?.digest);
      const audit = await as('root', 'GET', `/api/v1/audit?objectType=promotion&objectId=${asked.body.id}`);
      assert.equal(audit.body.items.filter((e: { action: string }) => e.action === 'promotion.promoted').length, 1);
    });
  });
}
