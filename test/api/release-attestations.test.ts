/**
 * Signed promotion attestations of releases, and the referrers-API path, on both backends against real registries.
 *
 * Releases (distribution 2.8, so the `sha256-<hex>` tag fallback): a release of web and api promoted dev → prod is
 * PROMOTED once its tags are written, with one attestation job per image pending; the deploy gate says pending. Two
 * actors: a first runner stalls after copying, a second takes the target over and records it (the first, resumed,
 * queues nothing more); then a first attestor signs and pushes web's attestation but stalls before recording it, and a
 * second takes the job over and pushes the same bytes. Each image carries exactly one hoist referrer, whose predicate
 * names the release and both images; `hoist verify`'s chain and the deploy gate verify each digest into prod.
 *
 * Referrers API: behind test/harness/referrers-api.ts (a proxy adding the OCI 1.1 API to a real 2.8), hoist attaches
 * without writing any fallback tag (the manifest PUT is answered with OCI-Subject), reads signatures for the policy
 * (`signature.verified`) and attestations for `hoist verify` through `GET /v2/<name>/referrers/<digest>`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { runCli } from '../helpers/run-cli.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startReferrersApi, type ReferrersApiProxy } from '../harness/referrers-api.ts';
import { buildImage, MediaTypes, type TestManifest } from '../harness/images.ts';
import { pushImage, pushReferrer } from '../harness/push.ts';
import { cosignSignature, generateKey } from '../harness/cosign.ts';
import { openHost, openRepository } from '../../src/oci/registry.ts';
import { parsePublicKey } from '../../src/trust/keys.ts';
import { verifyPromotionChain } from '../../src/trust/read-attestations.ts';
import { PromotionAttestor } from '../../src/service/promotion-attestor.ts';
import { PromotionRunner } from '../../src/service/promotion-runner.ts';
import { Outbox } from '../../src/service/outbox.ts';
import { claimJob, LeaseLost } from '../../src/store/jobs.repository.ts';
import {
  ATTESTATION_JOBS,
  loadAttestationJob,
  recordAttached,
} from '../../src/store/promotion-attestations.repository.ts';

const P = '/api/v1/projects/shop';
const APPS = ['api', 'web'] as const;
const TARGET = 'dev.hoist.promotion.target';
const releaseKey = generateKey('ecdsa');

let reg: TestRegistry;
let proxy: ReferrersApiProxy;
before(async () => {
  reg = await startRegistry();
  proxy = await startReferrersApi(reg);
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
});

interface Referrer {
  digest: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}
/** The hoist referrers in the fallback index (read from the registry directly, not through hoist). */
async function fallbackReferrers(repo: string, digest: string): Promise<Referrer[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${digest.replace(':', '-')}`, {
    headers: { accept: MediaTypes.ociIndex },
  });
  if (res.status === 404) return [];
  const all = ((await res.json()) as { manifests: Referrer[] }).manifests;
  return all.filter((r) => r.annotations?.[TARGET] !== undefined);
}

function namedKey(pem: string) {
  const parsed = parsePublicKey(pem);
  assert.ok(parsed.ok);
  return { name: 'hoist', key: parsed.value };
}

async function setUp(backend: string, registryHost: string, ns: string, o: { policy?: boolean } = {}) {
  const api = await startApi(backend as never);
  const tokens: Record<string, string> = { root: await api.tokenFor('root', { admin: true }) };
  for (const u of ['devon', 'pat']) tokens[u] = await api.tokenFor(u);
  const as = (who: string, ...rest: Parameters<Call>) => caller(api.app, tokens[who] ?? '')(...rest);
  await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${registryHost}` });
  await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
  for (const env of ['dev', 'staging', 'prod']) {
    await as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: `${ns}/${env}/` });
    await as('root', 'PUT', `${P}/environments/${env}`, {
      kind: 'repository',
      registry: 'local',
      repository: `${ns}/${env}/{app}`,
    });
  }
  for (const app of APPS) await as('root', 'POST', `${P}/applications`, { name: app });
  await as('root', 'PUT', `${P}/pipeline`, {
    edges: [
      { from: 'dev', to: 'staging' },
      { from: 'staging', to: 'prod' },
    ],
  });
  await as('root', 'POST', `${P}/members`, { username: 'devon', role: 'owner' });
  await as('root', 'POST', `${P}/members`, { username: 'pat', role: 'promoter' });
  if (o.policy) {
    await as('root', 'PUT', `${P}/trust-roots/release-key`, { publicKey: releaseKey.publicPem });
    await as('root', 'POST', '/api/v1/policies', { name: `signed-${ns}`, passConditions: ['signature.verified'] });
    await as('root', 'POST', `/api/v1/policies/signed-${ns}/apply`, {
      applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
    });
  }
  return { api, as };
}

for (const [b, backend] of BACKENDS.entries()) {
  void describe(`release attestations, tag fallback [${backend}]`, () => {
    const ns = `rel-${backend}`;
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const images: Record<string, TestManifest> = {};

    before(async () => {
      ({ api, as } = await setUp(backend, reg.host, ns));
      for (const [i, app] of APPS.entries()) {
        images[app] = buildImage({ layers: [700 + 10 * b + i] });
        await pushImage(reg.url, `${ns}/dev/${app}`, images[app], { tag: '2.0' });
        const r = await as('devon', 'POST', `${P}/applications/${app}/artifacts`, {
          reference: `${reg.host}/${ns}/dev/${app}:2.0`,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });
    after(() => api?.close());

    test('a release target taken over by a second runner, its attestation job by a second attestor: one referrer per image', async () => {
      const made = await as('devon', 'POST', `${P}/releases`, {
        name: 'shop-2.0',
        applications: APPS.map((app) => ({ application: app, digest: images[app]?.digest })),
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const asked = await as('devon', 'POST', `${P}/releases/shop-2.0/promotions`, { from: 'dev', to: ['staging'] });
      assert.equal(asked.status, 201, JSON.stringify(asked.body));
      const id = asked.body.id as string;

      // Runner 1 copies every image, then stalls; its lease lapses and the services' runner takes the target over.
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
          ...(api.services.attestor ? { attestor: api.services.attestor } : {}),
        },
        new Outbox(false),
      );
      const running = first.runOne();
      await reached;
      await sql`UPDATE promotion_targets SET lease_until = now() - interval '1 second'
        WHERE request_id = ${id}`.execute(api.database.db);
      assert.equal(await api.services.runner.runOne(), true);
      resume();
      await running;
      const shownTarget = (await as('devon', 'GET', `${P}/promotions/${id}`)).body.targets[0];
      assert.equal(shownTarget.state, 'PROMOTED', JSON.stringify(shownTarget));
      const target = await api.database.db
        .selectFrom('promotion_targets')
        .select('id')
        .where('request_id', '=', id)
        .executeTakeFirstOrThrow();
      const jobs = await api.database.db
        .selectFrom('attestation_jobs')
        .select(['id', 'state', 'digest'])
        .where('target_id', '=', target.id)
        .execute();
      assert.deepEqual(jobs.map((j) => j.state).sort(), ['PENDING', 'PENDING'], 'one job per image, queued once');
      for (const app of APPS) {
        const gate = await as('devon', 'GET', `${P}/environments/staging/attestation?digest=${images[app]?.digest}`);
        assert.equal(gate.body.verified, false);
        assert.match(gate.body.reason, /is pending/);
      }

      // Attestor 1 claims web's job, signs and pushes, then stalls before recording; attestor 2 takes it over.
      const webJob = jobs.find((j) => j.digest === images.web?.digest);
      assert.ok(webJob);
      await sql`UPDATE attestation_jobs SET run_after = now() + interval '1 hour' WHERE id != ${webJob.id}`.execute(
        api.database.db,
      );
      const claim = await claimJob(api.database.db, ATTESTATION_JOBS, new Date(), 60_000);
      assert.ok(claim);
      assert.equal(claim.id, webJob.id);
      const stalled = new PromotionAttestor(api.database.db, api.services.signingKeys, api.services.registries);
      const pushed = await stalled.attach(
        { ...claim, signal: new AbortController().signal },
        await loadAttestationJob(api.database.db, claim.id),
      );
      await sql`UPDATE attestation_jobs SET lease_until = now() - interval '1 second' WHERE id = ${webJob.id}`.execute(
        api.database.db,
      );
      assert.equal(await api.services.attestor?.runOne(), true, 'the second attestor takes the job over');
      await assert.rejects(recordAttached(api.database.db, claim, new Date()), LeaseLost, 'the first records nothing');
      await sql`UPDATE attestation_jobs SET run_after = ${new Date(Date.now() - 1000)} WHERE target_id = ${target.id}`.execute(
        api.database.db,
      );
      while (await api.services.attestor?.runOne());

      const pem = (await as('devon', 'GET', '/api/v1/signing-key')).body.items[0].publicKey as string;
      const host = openHost(reg.host, { insecure: true });
      for (const app of APPS) {
        const digest = images[app]?.digest ?? '';
        const referrers = await fallbackReferrers(`${ns}/staging/${app}`, digest);
        const why = await api.database.db
          .selectFrom('attestation_jobs')
          .selectAll()
          .where('digest', '=', digest)
          .execute();
        assert.equal(
          referrers.length,
          1,
          `exactly one hoist referrer on ${app}: ${JSON.stringify(why.map((j) => [j.state, j.last_error, j.run_after, j.attempts]))}`,
        );
        if (app === 'web')
          assert.equal(referrers[0]?.digest, pushed.manifest, 'the same bytes the first attestor pushed');
        const r = await verifyPromotionChain(
          openRepository(host, `${ns}/staging/${app}`),
          digest,
          [namedKey(pem)],
          'staging',
        );
        assert.equal(r.verdict.ok, true, JSON.stringify(r.verdict));
        const promotion = r.verdict.chain[0]?.promotion;
        assert.equal(promotion?.application, app);
        assert.equal(promotion?.release?.name, 'shop-2.0');
        assert.deepEqual(
          promotion?.release?.applications.map((a) => [a.application, a.digest, a.tag]),
          APPS.map((a) => [a, images[a]?.digest, '2.0']),
        );
        const gate = await as('devon', 'GET', `${P}/environments/staging/attestation?digest=${digest}`);
        assert.equal(gate.body.verified, true, gate.body.reason);
      }
      const states = await api.database.db
        .selectFrom('attestation_jobs')
        .select('state')
        .where('target_id', '=', target.id)
        .execute();
      assert.deepEqual(
        states.map((s) => s.state),
        ['ATTACHED', 'ATTACHED'],
      );
      const shown = await as('devon', 'GET', `${P}/applications/api/artifacts/${images.api?.digest}`);
      assert.deepEqual(
        shown.body.attestations.map((a: { environment: string; state: string }) => [a.environment, a.state]),
        [['staging', 'attached']],
      );
    });
  });

  void describe(`attestations through the referrers API [${backend}]`, () => {
    const ns = `api-${backend}`;
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const image = buildImage({ layers: [900 + b] });
    const requestsTo = (pattern: RegExp, method = 'GET') =>
      proxy.requests.filter((r) => r.method === method && pattern.test(r.path)).length;

    before(async () => {
      // Everything through the proxy: hoist, the pushes, the signature.
      ({ api, as } = await setUp(backend, proxy.host, ns, { policy: true }));
      await pushImage(proxy.url, `${ns}/dev/web`, image, { tag: '1.0' });
      await pushReferrer(
        proxy.url,
        `${ns}/dev/web`,
        cosignSignature(image, releaseKey, { dockerReference: `${proxy.host}/${ns}/dev/web` }),
      );
    });
    after(() => api?.close());

    test('signatures for the policy and the attestations are read through the API; no fallback tag is written', async () => {
      // The harness's own push of the signature kept a fallback index (it is written for 2.8): count from here on.
      const FALLBACK = /\/manifests\/sha256-[0-9a-f]{64}$/;
      const [fallbackPuts, fallbackGets] = [requestsTo(FALLBACK, 'PUT'), requestsTo(FALLBACK, 'GET')];
      const readsBefore = requestsTo(new RegExp(`^/v2/${ns}/dev/web/referrers/`));
      const r = await as('devon', 'POST', `${P}/applications/web/artifacts`, {
        reference: `${proxy.host}/${ns}/dev/web:1.0`,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.ok(
        requestsTo(new RegExp(`^/v2/${ns}/dev/web/referrers/`)) > readsBefore,
        'the signature read via the API',
      );
      assert.equal(r.body.trust?.verified, true, JSON.stringify(r.body.trust));

      for (const [from, to] of [
        ['dev', 'staging'],
        ['staging', 'prod'],
      ] as const) {
        const asked = await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: image.digest,
          from,
          to: [to],
        });
        assert.equal(asked.status, 201, JSON.stringify(asked.body));
        assert.equal(asked.body.targets[0].state, 'QUEUED', `policy signature.verified passes into ${to}`);
        while (await api.services.runner.runOne());
        const seen = proxy.requests.length;
        while (await api.services.attestor?.runOne());
        const attaching = proxy.requests.slice(seen).map((r) => `${r.method} ${r.path.replace(/\?.*/, '')}`);
        // HEAD of the promoted manifest (its subject descriptor), the two envelopes (POST + PUT each), the manifest
        // PUT, and (the first time in a repository) a HEAD of the empty config: no index, no read-back.
        assert.equal(attaching.length, 7, `${attaching.length} requests: ${attaching.join(', ')}`);
        assert.equal(attaching.filter((r) => r.startsWith('PUT') && r.includes('/manifests/')).length, 1);
      }
      assert.equal(requestsTo(FALLBACK, 'PUT'), fallbackPuts, 'no fallback tag written by hoist');
      assert.equal(requestsTo(FALLBACK, 'GET'), fallbackGets, 'nor read');
      const listed = (await (
        await fetch(
          `${proxy.url}/v2/${ns}/prod/web/referrers/${image.digest}?artifactType=${encodeURIComponent('application/vnd.dsse.envelope.v1+json')}`,
        )
      ).json()) as { manifests: Referrer[] };
      assert.equal(listed.manifests.filter((m) => m.annotations?.[TARGET]).length, 2, 'staging’s (copied) and prod’s');

      const dir = mkdtempSync(join(tmpdir(), 'hoist-referrers-api-'));
      const pub = join(dir, 'pub.pem');
      writeFileSync(pub, (await as('devon', 'GET', '/api/v1/signing-key')).body.items[0].publicKey);
      const reads = requestsTo(new RegExp(`^/v2/${ns}/prod/web/referrers/`));
      const verified = await runCli(
        ['verify', `${proxy.host}/${ns}/prod/web@${image.digest}`, '--env', 'prod', '--key', pub],
        { HOIST_INSECURE_REGISTRIES: proxy.host, XDG_CONFIG_HOME: dir, HOIST_SERVER: 'http://127.0.0.1:1' },
      );
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.match(verified.stdout, /dev → staging → prod/);
      assert.ok(requestsTo(new RegExp(`^/v2/${ns}/prod/web/referrers/`)) > reads, 'hoist verify read the API');
      const gate = await as('devon', 'GET', `${P}/environments/prod/attestation?digest=${image.digest}`);
      assert.equal(gate.body.verified, true, gate.body.reason);
    });
  });
}
