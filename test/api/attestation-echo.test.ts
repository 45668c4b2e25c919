/**
 * The attestation's own pushes come back as push events and are recognised at the hook (src/events/referrer-writes.ts),
 * on both backends, with a real distribution registry (2.8: no referrers API, so the attestation writes its manifest
 * by digest and the `sha256-<hex>` fallback index) whose notifications point at hoist. Second actor: another writer
 * attaching its own referrer to the same image in the same repository right after ours, which writes the same fallback
 * tag: its events are worked in full.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildArtifact, buildImage } from '../harness/images.ts';
import { getManifestRaw, pushImage, pushReferrer } from '../harness/push.ts';
import { REFERRER_ECHO_OUTCOME } from '../../src/events/echo-log.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SECRET = 'distribution-hook-secret-attestations';
const P = '/api/v1/projects/shop';
/** A promotion, its attestation and their events, on a machine that may be busy. */
const WAIT_MS = 30_000;

interface EventRow {
  repository: string;
  digest: string;
  tag: string | null;
  state: string;
  outcome: string | null;
}

for (const backend of BACKENDS) {
  void describe(`attestation pushes reported back [${backend}]`, () => {
    let api: TestApi;
    let reg: TestRegistry;
    let as: Call;

    before(async () => {
      api = await startApi(backend);
      const base = await api.app.listen({ port: 0, host: '127.0.0.1' });
      reg = await startRegistry({
        notificationsUrl: `${base}/api/v1/hooks/distribution`,
        notificationHeaders: { Authorization: `Bearer ${SECRET}` },
        notificationIgnoredActions: ['pull'],
        notificationIgnoredMediaTypes: ['application/octet-stream'],
      });
      as = caller(api.app, await api.tokenFor('root', { admin: true }));
      await as('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      assert.equal((await as('PUT', '/api/v1/registries/local/hooks/distribution', { secret: SECRET })).status, 200);
      await as('POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'staging/']) await as('PUT', `${P}/namespaces`, { registry: 'local', prefix });
      await as('POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'staging'])
        await as('PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] });
      const rule = await as('POST', `${P}/rules`, {
        name: 'releases',
        from: 'dev',
        to: 'staging',
        criteria: [{ field: 'tag', op: 'startsWith', value: 'v' }],
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      await api.services.intake.start();
      await api.services.runner.start();
      await api.services.attestor?.start();
    });
    after(async () => {
      await api?.services.attestor?.stop();
      await api?.services.intake.stop();
      await api?.services.runner.stop();
      await api?.close();
      await reg?.stop();
    });

    const settled = (pick: (e: EventRow) => boolean, n: number) => async () => {
      const items = ((await as('GET', '/api/v1/events?limit=1000')).body.items as EventRow[]).filter(pick);
      return items.length >= n && items.every((e) => e.state !== 'PENDING' && e.state !== 'WORKING')
        ? items
        : undefined;
    };

    test("the attestation's manifest and fallback index are recognised; another writer's referrer right after is worked", async () => {
      const image = buildImage({ layers: [600] });
      await pushImage(reg.url, 'dev/web', image, { tag: 'v1' });
      await waitFor(
        'staging/web:v1',
        async () => (await getManifestRaw(reg.url, 'staging/web', 'v1')).status === 200,
        WAIT_MS,
      );
      const fallbackTag = image.digest.replace(':', '-');
      // The attestation: its manifest by digest (no tag), then the fallback index under the subject's tag.
      const fallbackIndex = async () => {
        const m = await getManifestRaw(reg.url, 'staging/web', fallbackTag);
        return m.status === 200 ? m.digest : undefined;
      };
      const ours = await waitFor('the attestation attached', fallbackIndex, WAIT_MS);
      const own = await waitFor(
        "the attestation's events",
        settled(
          (e) =>
            e.repository === 'staging/web' && (e.tag === fallbackTag || (e.tag === null && e.digest !== image.digest)),
          2,
        ),
        WAIT_MS,
      );
      for (const e of own)
        assert.deepEqual([e.state, e.outcome], ['IGNORED', REFERRER_ECHO_OUTCOME], JSON.stringify(e));
      assert.ok(
        own.some((e) => e.tag === fallbackTag && e.digest === ours),
        JSON.stringify(own),
      );

      // Second actor: someone attaches a referrer of the same image to the same repository right after: a manifest
      // hoist never wrote, and the same fallback tag with another digest (our entry and theirs).
      const theirs = buildArtifact(image, { artifactType: 'application/vnd.example.sbom+json' });
      await pushReferrer(reg.url, 'staging/web', theirs);
      const index = await fallbackIndex();
      assert.ok(index !== undefined && index !== ours, 'the fallback index was written again');
      const foreign = await waitFor(
        "the other writer's events",
        settled((e) => e.repository === 'staging/web' && (e.digest === theirs.digest || e.digest === index), 2),
        WAIT_MS,
      );
      for (const e of foreign) {
        assert.notEqual(e.outcome, REFERRER_ECHO_OUTCOME, JSON.stringify(e));
        assert.deepEqual(
          [e.state, e.outcome],
          ['DONE', `a referrer of ${image.digest}: 1 artifact(s) refreshed`],
          JSON.stringify(e),
        );
      }
    });
  });
}
