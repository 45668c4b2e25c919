/**
 * Verified signatures as policy input, against a real registry on both backends: a project's owner names the keys
 * it trusts; hoist reads the cosign signatures and DSSE attestations attached to each artifact, judges them, keeps
 * the verdict with the artifact (shown by the API, with the reason for each), judges again when a referrer arrives
 * or the project's roots change, and policies read it. Second actors: another project's owner can neither read nor
 * change this project's roots, and their roots never verify this project's artifacts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage, type TestManifest } from '../harness/images.ts';
import { getManifestRaw, pushImage, pushReferrer } from '../harness/push.ts';
import {
  attestation,
  cosignSignature,
  cosignSignatureImage,
  generateKey,
  signatureTag,
  slsaProvenanceV1,
} from '../harness/cosign.ts';

const P = '/api/v1/projects/shop';
const SLSA = 'https://slsa.dev/provenance/v1';
const BUILDER = 'https://github.com/actions/runner/github-hosted';
const SOURCE = 'https://github.com/shop/web';
const releaseKey = generateKey('ecdsa');
const strangerKey = generateKey('ed25519');

const images = {
  valid: buildImage({ layers: [300] }),
  otherDigest: buildImage({ layers: [300] }),
  unknownKey: buildImage({ layers: [300] }),
  tampered: buildImage({ layers: [300] }),
  otherRepository: buildImage({ layers: [300] }),
  legacyTag: buildImage({ layers: [300] }),
  provenance: buildImage({ layers: [300] }),
  tamperedProvenance: buildImage({ layers: [300] }),
};
type Case = keyof typeof images;

let reg: TestRegistry;
before(async () => {
  reg = await startRegistry();
  const ref = `${reg.host}/dev/web`;
  for (const [name, m] of Object.entries(images)) await pushImage(reg.url, 'dev/web', m, { tag: name });
  const sig = (m: TestManifest, o: Parameters<typeof cosignSignature>[2], key = releaseKey) =>
    pushReferrer(reg.url, 'dev/web', cosignSignature(m, key, o));
  await sig(images.valid, { dockerReference: ref });
  await sig(images.otherDigest, { dockerReference: ref, digest: images.valid.digest });
  await sig(images.unknownKey, { dockerReference: ref }, strangerKey);
  await sig(images.tampered, { dockerReference: ref, tamper: true });
  // Signed, rightly, where it was built (beta/web); its signature then copied next to the same digest in dev/web.
  await pushImage(reg.url, 'beta/web', images.otherRepository, { tag: 'x' });
  const theirs = cosignSignature(images.otherRepository, releaseKey, { dockerReference: `${reg.host}/beta/web` });
  await pushReferrer(reg.url, 'beta/web', theirs);
  await pushReferrer(reg.url, 'dev/web', theirs);
  const legacy = cosignSignatureImage(images.legacyTag, releaseKey, { dockerReference: ref });
  await pushImage(reg.url, 'dev/web', legacy, { tag: signatureTag(images.legacyTag) });
  const att = { predicateType: SLSA, predicate: slsaProvenanceV1(BUILDER, SOURCE), name: ref };
  await pushReferrer(reg.url, 'dev/web', attestation(images.provenance, releaseKey, att));
  await pushReferrer(reg.url, 'dev/web', attestation(images.tamperedProvenance, releaseKey, { ...att, tamper: true }));
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`signature verification [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const artifact = async (c: Case) =>
      (await as('devon', 'GET', `${P}/applications/web/artifacts/${images[c].digest}`)).body;

    before(async () => {
      api = await startApi(backend);
      const tokens: Record<string, string> = { root: await api.tokenFor('root', { admin: true }) };
      for (const u of ['olga', 'devon', 'pat', 'bert']) tokens[u] = await api.tokenFor(u);
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      for (const [project, prefixes] of [
        ['shop', ['dev/', 'prod/']],
        ['beta', ['beta/']],
      ] as const) {
        await as('root', 'POST', '/api/v1/projects', { name: project });
        for (const prefix of prefixes)
          await as('root', 'PUT', `/api/v1/projects/${project}/namespaces`, { registry: 'local', prefix });
      }
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
      await as('root', 'POST', '/api/v1/projects/beta/members', { username: 'bert', role: 'owner' });
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

    test('owners add trust roots, members read them; a bad key is refused with the reason', async () => {
      const put = await as('olga', 'PUT', `${P}/trust-roots/release-key`, { publicKey: releaseKey.publicPem });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      assert.equal(put.body.algorithm, 'ecdsa-p256');
      assert.match(put.body.fingerprint, /^[0-9a-f]{64}$/);
      const again = await as('olga', 'PUT', `${P}/trust-roots/release-key`, { publicKey: releaseKey.publicPem });
      assert.equal(again.status, 200, 'replacing answers 200');
      const list = await as('devon', 'GET', `${P}/trust-roots`);
      assert.deepEqual(
        list.body.items.map((r: { name: string; createdBy: string }) => [r.name, r.createdBy]),
        [['release-key', 'olga']],
      );
      assert.equal((await as('devon', 'GET', `${P}/trust-roots/release-key`)).status, 200);
      assert.equal((await as('devon', 'GET', `${P}/trust-roots/nope`)).status, 404);
      const notOwner = await as('devon', 'PUT', `${P}/trust-roots/mine`, { publicKey: strangerKey.publicPem });
      assert.equal(notOwner.status, 403, 'a developer does not choose what is trusted');
      const priv = releaseKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const bad = await as('olga', 'PUT', `${P}/trust-roots/oops`, { publicKey: priv });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /private key/);
      const audit = await as('root', 'GET', '/api/v1/audit?objectType=trust-root');
      assert.ok(
        JSON.stringify(audit.body).includes('trust-root.add'),
        `the change is audited: ${JSON.stringify(audit.body).slice(0, 300)}`,
      );
    });

    test("another project's owner can neither read nor change this project's trust roots", async () => {
      for (const [method, url, body] of [
        ['GET', `${P}/trust-roots`, undefined],
        ['GET', `${P}/trust-roots/release-key`, undefined],
        ['PUT', `${P}/trust-roots/release-key`, { publicKey: strangerKey.publicPem }],
        ['PUT', `${P}/trust-roots/intruder`, { publicKey: strangerKey.publicPem }],
        ['DELETE', `${P}/trust-roots/release-key`, undefined],
      ] as const) {
        const r = await as('bert', method, url, body);
        assert.equal(r.status, 403, `${method} ${url}: ${JSON.stringify(r.body)}`);
        assert.ok(!JSON.stringify(r.body).includes('BEGIN PUBLIC KEY'));
      }
      const list = await as('olga', 'GET', `${P}/trust-roots`);
      assert.deepEqual(
        list.body.items.map((r: { name: string }) => r.name),
        ['release-key'],
      );
      assert.equal(list.body.items[0].publicKey.trim(), releaseKey.publicPem.trim());
    });

    test('each artifact is judged when registered: verified or not, and why', async () => {
      for (const c of Object.keys(images) as Case[]) {
        const r = await as('devon', 'POST', `${P}/applications/web/artifacts`, {
          reference: `${reg.host}/dev/web@${images[c].digest}`,
        });
        assert.equal(r.status, 201, `${c}: ${JSON.stringify(r.body)}`);
      }
      const expected: Array<[Case, boolean, string[], RegExp]> = [
        ['valid', true, ['release-key'], /^verified with release-key$/],
        ['otherDigest', false, [], /names sha256:[0-9a-f]+, not this artifact/],
        ['unknownKey', false, [], /no trust root of the project verifies the signature/],
        ['tampered', false, [], /no trust root of the project verifies the signature/],
        ['otherRepository', false, [], /signed for .*\/beta\/web, not .*\/dev\/web/],
        ['legacyTag', true, ['release-key'], /^verified with release-key$/],
      ];
      for (const [c, verified, signers, reason] of expected) {
        const t = (await artifact(c)).trust;
        assert.deepEqual([t.verified, t.signers], [verified, signers], `${c}: ${JSON.stringify(t)}`);
        assert.equal(t.checks.length, 1, c);
        assert.equal(t.checks[0].type, 'signature');
        assert.match(t.checks[0].reason, reason, c);
        assert.deepEqual(
          t.roots.map((r: { name: string }) => r.name),
          ['release-key'],
        );
        assert.ok(!Number.isNaN(Date.parse(t.checkedAt)));
      }
      assert.equal((await artifact('legacyTag')).trust.checks[0].source, 'tag');

      const good = (await artifact('provenance')).trust;
      assert.deepEqual(good.attestations, [{ predicateType: SLSA, signer: 'release-key', verified: true }]);
      assert.deepEqual(good.provenance, { builder: BUILDER, sourceRepo: SOURCE });
      assert.equal(good.verified, false, 'an attestation is not an image signature');
      const bad = (await artifact('tamperedProvenance')).trust;
      assert.deepEqual(bad.attestations, [{ predicateType: SLSA, signer: '', verified: false }]);
      assert.equal(bad.provenance, null);
      assert.match(bad.checks[0].reason, /no trust root of the project verifies a signature of the envelope/);
    });

    test('only the validly signed image passes `signature.verified && "release-key" in signature.signers`', async () => {
      const outcomes: Record<string, string> = {};
      for (const c of ['valid', 'otherDigest', 'unknownKey', 'tampered', 'otherRepository', 'provenance'] as Case[]) {
        const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: images[c].digest,
          from: 'dev',
          to: ['prod'],
        });
        assert.equal(r.status, 201, `${c}: ${JSON.stringify(r.body)}`);
        const target = r.body.targets[0];
        outcomes[c] = target.state;
        if (c !== 'valid')
          assert.deepEqual(target.reasons, [
            'pass condition `signature.verified && "release-key" in signature.signers` is false',
          ]);
      }
      assert.deepEqual(outcomes, {
        valid: 'AWAITING_APPROVAL',
        otherDigest: 'REJECTED',
        unknownKey: 'REJECTED',
        tampered: 'REJECTED',
        otherRepository: 'REJECTED',
        provenance: 'REJECTED',
      });
    });

    test('a signature attached later is judged when its push event arrives: a referrer, or the .sig tag', async () => {
      const registry = await api.services.registries.row('local');
      for (const form of ['referrer', 'tag'] as const) {
        const late = buildImage({ layers: [300] });
        await pushImage(reg.url, 'dev/web', late, { tag: `late-${form}-${backend}` });
        const first = await as('devon', 'POST', `${P}/applications/web/artifacts`, {
          reference: `${reg.host}/dev/web@${late.digest}`,
        });
        assert.deepEqual([first.body.trust.verified, first.body.trust.checks], [false, []]);
        const o = { dockerReference: `${reg.host}/dev/web` };
        const sig =
          form === 'referrer' ? cosignSignature(late, releaseKey, o) : cosignSignatureImage(late, releaseKey, o);
        const tag = form === 'referrer' ? late.digest.replace(':', '-') : signatureTag(late);
        if (form === 'referrer') await pushReferrer(reg.url, 'dev/web', sig);
        else await pushImage(reg.url, 'dev/web', sig, { tag });
        // The registry's notification: the referrers index tag (or the .sig tag) was pushed, with what it names now.
        const named = (await getManifestRaw(reg.url, 'dev/web', tag)).digest ?? '';
        await api.services.intake.receive(registry.id, 'generic', [
          { id: `late-${form}`, repository: 'dev/web', tag, digest: named },
        ]);
        while (await api.services.intake.processOne());
        const after = await as('devon', 'GET', `${P}/applications/web/artifacts/${late.digest}`);
        assert.deepEqual(after.body.trust.signers, ['release-key'], `${form}: ${JSON.stringify(after.body.trust)}`);
      }
    });

    test("the project's artifacts are judged again when its roots change; another project's roots never count", async () => {
      assert.equal((await as('olga', 'DELETE', `${P}/trust-roots/release-key`)).status, 204);
      const without = (await artifact('valid')).trust;
      assert.deepEqual([without.verified, without.signers, without.roots], [false, [], []]);
      assert.match(without.checks[0].reason, /the project has no trust roots/);

      // beta trusts the very key that signed shop's image: that verifies nothing of shop's.
      const beta = await as('bert', 'PUT', '/api/v1/projects/beta/trust-roots/release-key', {
        publicKey: releaseKey.publicPem,
      });
      assert.equal(beta.status, 201, JSON.stringify(beta.body));
      assert.equal((await artifact('valid')).trust.verified, false);
      const denied = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        digest: images.valid.digest,
        from: 'dev',
        to: ['prod'],
      });
      assert.equal(denied.body.targets[0].state, 'REJECTED');

      // Under another name, the same key: the policy asks for release-key by name.
      await as('olga', 'PUT', `${P}/trust-roots/ci-key`, { publicKey: releaseKey.publicPem });
      assert.deepEqual((await artifact('valid')).trust.signers, ['ci-key']);
      await as('olga', 'PUT', `${P}/trust-roots/release-key`, { publicKey: releaseKey.publicPem });
      const back = (await artifact('valid')).trust;
      assert.deepEqual([back.verified, back.signers], [true, ['ci-key', 'release-key']]);
      assert.equal((await as('olga', 'DELETE', `${P}/trust-roots/ci-key`)).status, 204);
    });
  });
}
