/**
 * Sigstore identities as trust roots, end to end against a real registry on both backends: bundles made by
 * test/harness/sigstore.ts (offline CA with SCTs and transparency log) attached as OCI referrers; an owner trusts an
 * identity with the trusted_root.json; each artifact's bundle is judged when registered, and the policy
 * `signature.verified && "release-key" in signature.signers` lets only the validly signed image through.
 * Then the roots change under waiting requests: a second actor (the owner) removes the root a waiting request relied
 * on, and the request is STALE at once (its approver, a third actor, can no longer approve it); and an artifact whose
 * signatures were never read (as one registered before migration 0016) is read on the push-event queue when the roots
 * change, and judged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage, pushReferrer } from '../harness/push.ts';
import { bundleReferrer, GITHUB_ISSUER, messageBundle, startSigstore, type TestSigstore } from '../harness/sigstore.ts';

const P = '/api/v1/projects/shop';
const WORKFLOW = 'https://github.com/shop/web/.github/workflows/release.yml@refs/heads/main';
const FORK = 'https://github.com/someone/web/.github/workflows/release.yml@refs/heads/main';

const images = {
  valid: buildImage({ layers: [300] }),
  untrusted: buildImage({ layers: [300] }),
  otherDigest: buildImage({ layers: [300] }),
  tampered: buildImage({ layers: [300] }),
  foreignCa: buildImage({ layers: [300] }),
  unread: buildImage({ layers: [300] }),
};
type Case = keyof typeof images;

let reg: TestRegistry;
let sigstore: TestSigstore;
before(async () => {
  reg = await startRegistry();
  sigstore = await startSigstore();
  const stranger = await startSigstore();
  for (const [name, m] of Object.entries(images)) await pushImage(reg.url, 'dev/web', m, { tag: name });
  const attach = async (c: Case, bundle: Buffer) => pushReferrer(reg.url, 'dev/web', bundleReferrer(images[c], bundle));
  await attach('valid', await messageBundle(sigstore, images.valid.bytes, { subject: WORKFLOW }));
  await attach('untrusted', await messageBundle(sigstore, images.untrusted.bytes, { subject: FORK }));
  await attach('otherDigest', await messageBundle(sigstore, images.valid.bytes, { subject: WORKFLOW }));
  await attach(
    'tampered',
    await messageBundle(sigstore, images.tampered.bytes, { subject: WORKFLOW, tamperSignature: true }),
  );
  await attach('foreignCa', await messageBundle(stranger, images.foreignCa.bytes, { subject: WORKFLOW }));
  await attach('unread', await messageBundle(sigstore, images.unread.bytes, { subject: WORKFLOW }));
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`Sigstore identities [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const artifact = async (c: Case) =>
      (await as('devon', 'GET', `${P}/applications/web/artifacts/${images[c].digest}`)).body;
    const identity = () => ({ issuer: GITHUB_ISSUER, subject: WORKFLOW, trustedRoot: sigstore.trustedRoot() });

    before(async () => {
      api = await startApi(backend);
      const tokens: Record<string, string> = { root: await api.tokenFor('root', { admin: true }) };
      for (const u of ['olga', 'devon', 'pat']) tokens[u] = await api.tokenFor(u);
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'prod/']) await as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'prod'])
        await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'prod' }] });
      for (const [u, role] of [
        ['olga', 'owner'],
        ['devon', 'developer'],
        ['pat', 'promoter'],
      ] as const)
        assert.equal((await as('root', 'POST', `${P}/members`, { username: u, role })).status, 201);
      await as('root', 'POST', '/api/v1/policies', {
        name: 'release-signed',
        passConditions: ['signature.verified && "release-key" in signature.signers'],
        approverCount: 1,
      });
      await as('root', 'POST', '/api/v1/policies/release-signed/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
      });
    });
    after(() => api?.close());

    test('an owner trusts a Sigstore identity with its trusted root; bad ones are refused naming the field', async () => {
      const put = await as('olga', 'PUT', `${P}/trust-roots/release-key`, { sigstore: identity() });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      assert.equal(put.body.algorithm, 'sigstore');
      assert.equal(put.body.publicKey, undefined);
      assert.deepEqual(
        [put.body.sigstore.issuer, put.body.sigstore.subject, put.body.sigstore.trustedRoot.certificateAuthorities],
        [GITHUB_ISSUER, WORKFLOW, 1],
      );
      const cases: Array<[object, RegExp]> = [
        [{ ...identity(), trustedRoot: '{"mediaType":"nope"}' }, /sigstore\.trustedRoot/],
        [{ issuer: GITHUB_ISSUER, trustedRoot: sigstore.trustedRoot() }, /sigstore\.subject/],
        [{ ...identity(), subject: undefined, subjectRegex: '(?=x)' }, /sigstore\.subjectRegex/],
      ];
      for (const [body, field] of cases) {
        const r = await as('olga', 'PUT', `${P}/trust-roots/bad`, { sigstore: body });
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.match(JSON.stringify(r.body.error), field);
      }
      const huge = await as('olga', 'PUT', `${P}/trust-roots/bad`, {
        sigstore: { ...identity(), issuer: 'x'.repeat(2000) },
      });
      assert.equal(huge.status, 400, 'the issuer is a bounded field');
      const notOwner = await as('devon', 'PUT', `${P}/trust-roots/mine`, { sigstore: identity() });
      assert.equal(notOwner.status, 403);
      const list = await as('devon', 'GET', `${P}/trust-roots`);
      assert.deepEqual(
        list.body.items.map((r: { name: string }) => r.name),
        ['release-key'],
      );
    });

    test('each artifact is judged when registered, and only the valid bundle passes the policy', async () => {
      for (const c of ['valid', 'untrusted', 'otherDigest', 'tampered', 'foreignCa'] as Case[]) {
        const r = await as('devon', 'POST', `${P}/applications/web/artifacts`, {
          reference: `${reg.host}/dev/web@${images[c].digest}`,
        });
        assert.equal(r.status, 201, `${c}: ${JSON.stringify(r.body)}`);
      }
      const expected: Array<[Case, boolean, RegExp]> = [
        ['valid', true, /^verified with release-key$/],
        ['untrusted', false, /signed by https:\/\/github.com\/someone\/web\/.*an identity no trust root/],
        ['otherDigest', false, /the bundle signs sha256:[0-9a-f]{64}, not this artifact/],
        ['tampered', false, /does not verify against any trusted root/],
        ['foreignCa', false, /CERTIFICATE_ERROR/],
      ];
      for (const [c, verified, reason] of expected) {
        const t = (await artifact(c)).trust;
        assert.deepEqual(
          [t.verified, t.signers],
          [verified, verified ? ['release-key'] : []],
          `${c}: ${JSON.stringify(t)}`,
        );
        assert.equal(t.checks.length, 1, c);
        assert.match(t.checks[0].reason, reason, c);
      }
      assert.deepEqual((await artifact('valid')).trust.checks[0].identity, {
        issuer: GITHUB_ISSUER,
        subject: WORKFLOW,
      });

      const outcomes: Record<string, string> = {};
      for (const c of ['valid', 'untrusted', 'otherDigest', 'tampered', 'foreignCa'] as Case[]) {
        const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: images[c].digest,
          from: 'dev',
          to: ['prod'],
        });
        assert.equal(r.status, 201, `${c}: ${JSON.stringify(r.body)}`);
        outcomes[c] = r.body.targets[0].state;
      }
      assert.deepEqual(outcomes, {
        valid: 'AWAITING_APPROVAL',
        untrusted: 'REJECTED',
        otherDigest: 'REJECTED',
        tampered: 'REJECTED',
        foreignCa: 'REJECTED',
      });
    });

    test('the owner removes the root a waiting request relied on: it is STALE at once, and cannot be approved', async () => {
      const list = await as('devon', 'GET', `${P}/promotions?state=AWAITING_APPROVAL`);
      const waiting = list.body.items.find((p: { digest: string }) => p.digest === images.valid.digest);
      assert.ok(waiting, JSON.stringify(list.body));
      assert.equal((await as('olga', 'DELETE', `${P}/trust-roots/release-key`)).status, 204);
      const after = await as('devon', 'GET', `${P}/promotions/${waiting.id}`);
      assert.equal(after.body.targets[0].state, 'STALE', JSON.stringify(after.body.targets[0]));
      assert.match(JSON.stringify(after.body.targets[0]), /the trust roots of shop changed/);
      const approve = await as('pat', 'POST', `${P}/promotions/${waiting.id}/approve`, {});
      assert.notEqual(approve.status, 200, `a stale request is not approved: ${JSON.stringify(approve.body)}`);
      assert.equal((await as('devon', 'GET', `${P}/promotions/${waiting.id}`)).body.targets[0].state, 'STALE');
      const audit = await as('root', 'GET', `/api/v1/audit?objectType=promotion&objectId=${waiting.id}`);
      assert.ok(JSON.stringify(audit.body).includes('promotion.reevaluate'), JSON.stringify(audit.body).slice(0, 400));
      // Trusting it again does not revive the stale request; a new request passes.
      await as('olga', 'PUT', `${P}/trust-roots/release-key`, { sigstore: identity() });
      const again = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        digest: images.valid.digest,
        from: 'dev',
        to: ['prod'],
      });
      assert.equal(again.body.targets[0].state, 'AWAITING_APPROVAL', JSON.stringify(again.body));
    });

    test('an artifact whose signatures were never read is read on the push-event queue when the roots change', async () => {
      const r = await as('devon', 'POST', `${P}/applications/web/artifacts`, {
        reference: `${reg.host}/dev/web@${images.unread.digest}`,
      });
      assert.equal(r.status, 201);
      // As an artifact registered before migration 0016: nothing read, no verdict.
      await sql`UPDATE artifacts SET signature_evidence = NULL, trust = NULL WHERE digest = ${images.unread.digest}`.execute(
        api.database.db,
      );
      assert.equal((await artifact('unread')).trust, null);
      await as('olga', 'PUT', `${P}/trust-roots/release-key`, {
        sigstore: { ...identity(), subject: undefined, subjectRegex: '^https://github\\.com/shop/' },
      });
      const events = await as('root', 'GET', '/api/v1/events');
      assert.ok(
        events.body.items.some(
          (e: { source: string; digest: string }) => e.source === 'trust' && e.digest === images.unread.digest,
        ),
        JSON.stringify(events.body.items.slice(0, 3)),
      );
      while (await api.services.intake.processOne());
      const t = (await artifact('unread')).trust;
      assert.deepEqual([t?.verified, t?.signers], [true, ['release-key']], JSON.stringify(t));
    });
  });
}
