/**
 * Signed promotion attestations, against a real registry (distribution 2.8: no referrers API, so every attestation
 * goes through the `sha256-<hex>` tag fallback) on both backends: a dev → staging → prod → prod-eu promotion leaves
 * one referrer per hop on the promoted digest, each a DSSE envelope pair (SLSA VSA v1 + hoist promotion v1) whose
 * signature `openssl` verifies over a PAE computed here; the chain verifies into prod and prod-eu and not into an
 * environment it never reached; a tampered envelope, another key and an attestation moved onto another digest are
 * refused with the reason. Second actors: a second replica and a retry of the same claim attach nothing new; a
 * worker whose claim was taken over keeps nothing; a non-admin cannot rotate the key; anyone can read the public keys.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { blobOf, buildImage, descriptorOf, manifestOf, MediaTypes, type TestManifest } from '../harness/images.ts';
import { pushImage, pushReferrer } from '../harness/push.ts';
import { cosignSignature, generateKey, signBytes, type TestKey } from '../harness/cosign.ts';
import { openHost, openRepository } from '../../src/oci/registry.ts';
import { parsePublicKey } from '../../src/trust/keys.ts';
import { verifyPromotionChain } from '../../src/trust/read-attestations.ts';
import { PromotionAttestor } from '../../src/service/promotion-attestor.ts';
import { ATTESTATION_JOBS, loadAttestationJob } from '../../src/store/promotion-attestations.repository.ts';
import { claimJob } from '../../src/store/jobs.repository.ts';

const P = '/api/v1/projects/shop';
const DSSE = 'application/vnd.dsse.envelope.v1+json';
const IN_TOTO = 'application/vnd.in-toto+json';
const VSA = 'https://slsa.dev/verification_summary/v1';
const PROMOTION = 'https://hoist.dev/promotion/v1';
const releaseKey = generateKey('ecdsa');
const strangerKey = generateKey('ecdsa');

let reg: TestRegistry;
before(async () => {
  reg = await startRegistry();
});
after(() => reg?.stop());

/** Raw registry reads, independent of hoist's client. */
async function get(path: string, accept = MediaTypes.ociManifest + ',' + MediaTypes.ociIndex): Promise<Buffer> {
  const res = await fetch(`${reg.url}${path}`, { headers: { accept } });
  assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

interface Referrer {
  digest: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}
async function referrersOf(repo: string, digest: string): Promise<Referrer[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${digest.replace(':', '-')}`, {
    headers: { accept: MediaTypes.ociIndex },
  });
  if (res.status === 404) return [];
  return ((await res.json()) as { manifests: Referrer[] }).manifests;
}
const hoistReferrers = async (repo: string, digest: string) =>
  (await referrersOf(repo, digest)).filter((r) => r.annotations?.['dev.hoist.promotion.target'] !== undefined);

function namedKey(pem: string, name: string) {
  const parsed = parsePublicKey(pem);
  assert.ok(parsed.ok);
  return { name, key: parsed.value };
}

async function chain(repo: string, digest: string, env: string, pems: string[]) {
  const host = openHost(reg.host, { insecure: true });
  return verifyPromotionChain(
    openRepository(host, repo),
    digest,
    pems.map((p, i) => namedKey(p, `key${i}`)),
    env,
  );
}

/** A referrer holding the given envelope layers, on `subject`. */
function referrerWith(subject: TestManifest, envelopes: Buffer[]): TestManifest {
  const empty = blobOf(Buffer.from('{}'), MediaTypes.ociEmpty);
  const layers = envelopes.map((e) => blobOf(e, DSSE));
  return manifestOf(
    {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: DSSE,
      config: descriptorOf(empty),
      layers: layers.map(descriptorOf),
      subject: descriptorOf(subject),
      annotations: { 'dev.hoist.promotion.target': 'forged' },
    },
    MediaTypes.ociManifest,
    { blobs: [empty, ...layers] },
  );
}

const pae = (type: string, body: Buffer) =>
  Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);

function resign(envelope: Buffer, key: TestKey, change: (statement: Record<string, unknown>) => void): Buffer {
  const e = JSON.parse(envelope.toString('utf8')) as { payload: string };
  const statement = JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')) as Record<string, unknown>;
  change(statement);
  const payload = Buffer.from(JSON.stringify(statement));
  return Buffer.from(
    JSON.stringify({
      payloadType: IN_TOTO,
      payload: payload.toString('base64'),
      signatures: [{ keyid: '', sig: signBytes(key, pae(IN_TOTO, payload)).toString('base64') }],
    }),
  );
}

for (const backend of BACKENDS) {
  void describe(`promotion attestations [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const image = buildImage({ layers: [400] });
    const other = buildImage({ layers: [300] });
    const app = `web-${backend}`;
    const repo = (env: string) => `${env}/${app}`;
    let hoistPem = '';

    const promote = async (from: string, to: string, digest = image.digest) => {
      const r = await as('devon', 'POST', `${P}/applications/${app}/promotions`, { digest, from, to: [to] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      if (r.body.targets[0].state === 'AWAITING_APPROVAL') {
        const ok = await as('pat', 'POST', `${P}/promotions/${r.body.id}/approve`, { comment: 'ship it' });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
      }
      return r.body.id as string;
    };
    const runPromotions = async () => {
      while (await api.services.runner.runOne());
    };
    /** The runner records PROMOTED once the tag is written; the attestation is attached right after by its own job. */
    const runAll = async () => {
      await runPromotions();
      while (await api.services.attestor?.runOne());
    };

    before(async () => {
      for (const m of [image, other]) await pushImage(reg.url, repo('dev'), m, { tag: m === image ? '1.0' : '2.0' });
      await pushReferrer(
        reg.url,
        repo('dev'),
        cosignSignature(image, releaseKey, { dockerReference: `${reg.host}/${repo('dev')}` }),
      );
      api = await startApi(backend, { attestations: { verifierId: 'https://hoist.example.test' } });
      const tokens: Record<string, string> = { root: await api.tokenFor('root', { admin: true }) };
      for (const u of ['devon', 'pat', 'olga']) tokens[u] = await api.tokenFor(u);
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' }).catch(() => undefined);
      for (const prefix of ['dev/', 'staging/', 'prod/', 'prod-eu/'])
        await as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix });
      await as('root', 'POST', `${P}/applications`, { name: app });
      for (const env of ['dev', 'staging', 'prod', 'prod-eu'])
        await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
          { from: 'prod', to: 'prod-eu' },
        ],
      });
      for (const [u, role] of [
        ['devon', 'developer'],
        ['pat', 'promoter'],
        ['olga', 'owner'],
      ] as const)
        await as('root', 'POST', `${P}/members`, { username: u, role });
      await as('olga', 'PUT', `${P}/trust-roots/release-key`, { publicKey: releaseKey.publicPem });
      await as('root', 'POST', '/api/v1/policies', {
        name: 'prod-gate',
        passConditions: ['signature.verified'],
        approverCount: 1,
      });
      await as('root', 'POST', '/api/v1/policies/prod-gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: app, environment: 'prod' }],
      });
      for (const m of [image, other]) {
        const r = await as('devon', 'POST', `${P}/applications/${app}/artifacts`, {
          reference: `${reg.host}/${repo('dev')}@${m.digest}`,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });
    after(() => api?.close());

    test('anyone reads the public key; dev → staging → prod leaves one attestation per hop and the chain verifies', async () => {
      const keys = await api.app.inject({ method: 'GET', url: '/api/v1/signing-key' });
      assert.equal(keys.statusCode, 200, 'no sign-in needed');
      const items = (keys.json() as { items: Array<{ current: boolean; publicKey: string; keyId: string }> }).items;
      assert.equal(items.length, 0, 'no key before the first promotion of a server that never started its keys');
      await promote('dev', 'staging');
      await runAll();
      const prodId = await promote('staging', 'prod');
      await runPromotions();
      const state = await as('devon', 'GET', `${P}/promotions/${prodId}`);
      assert.equal(state.body.targets[0].state, 'PROMOTED', JSON.stringify(state.body.targets[0]));
      // PROMOTED before the attestation is attached: the deploy gate says it is pending, and artifact show too.
      const pending = await as('devon', 'GET', `${P}/environments/prod/attestation?digest=${image.digest}`);
      assert.equal(pending.body.verified, false);
      assert.match(pending.body.reason, /is pending: promoted, but not attached yet/);
      const shown = await as('devon', 'GET', `${P}/applications/${app}/artifacts/${image.digest}`);
      assert.deepEqual(
        (shown.body.attestations as Array<{ environment: string; state: string }>).map((a) => [a.environment, a.state]),
        [
          ['prod', 'pending'],
          ['staging', 'attached'],
        ],
      );
      assert.equal(await api.services.attestor?.runOne(), true);
      assert.equal(await api.services.attestor?.runOne(), false, 'one job per promoted image');
      const listed = (await as('devon', 'GET', '/api/v1/signing-key')).body.items;
      assert.equal(listed.length, 1);
      assert.match(listed[0].keyId, /^sha256:[0-9a-f]{64}$/);
      hoistPem = listed[0].publicKey;

      // The tag fallback (distribution 2.8 has no referrers API): staging's attestation was copied to prod with the
      // image, and prod's own added.
      assert.equal((await hoistReferrers(repo('staging'), image.digest)).length, 1);
      assert.equal((await hoistReferrers(repo('prod'), image.digest)).length, 2);
      const r = await chain(repo('prod'), image.digest, 'prod', [hoistPem]);
      assert.equal(r.verdict.ok, true, JSON.stringify(r.verdict));
      assert.deepEqual(
        r.verdict.chain.map((a) => [a.promotion?.from.environment, a.promotion?.to.environment]),
        [
          ['dev', 'staging'],
          ['staging', 'prod'],
        ],
      );
      const last = r.verdict.chain[1]?.promotion;
      assert.deepEqual(
        last?.approvals.map((a) => a.username),
        ['pat'],
      );
      assert.deepEqual([last?.policy?.name, last?.policy?.version], ['prod-gate', 1]);
      assert.equal(last?.requestId, prodId);
      assert.match(last?.audit?.hash ?? '', /^[0-9a-f]{64}$/);
      const audit = await as('root', 'GET', `/api/v1/audit?objectType=promotion&objectId=${prodId}`);
      assert.ok(JSON.stringify(audit.body).includes(last?.audit?.hash ?? '-'), 'the audit hash is a real entry');
      const notThere = await chain(repo('prod'), image.digest, 'prod-eu', [hoistPem]);
      assert.equal(notThere.verdict.ok, false);
      assert.match(notThere.verdict.ok ? '' : notThere.verdict.reason, /into prod-eu/);

      const gate = await as('devon', 'GET', `${P}/environments/prod/attestation?digest=${image.digest}`);
      assert.equal(gate.status, 200, JSON.stringify(gate.body));
      assert.equal(gate.body.verified, true, gate.body.reason);
      const never = await as('devon', 'GET', `${P}/environments/prod/attestation?digest=${other.digest}`);
      assert.equal(never.body.verified, false);
      assert.match(never.body.reason, new RegExp(`${other.digest} was never promoted to prod`));
    });

    test('openssl verifies the DSSE signature over a PAE computed here; the JSON has the in-toto and VSA v1 fields', async () => {
      const [ref] = await hoistReferrers(repo('prod'), image.digest).then((rs) =>
        rs.filter((x) => x.annotations?.['dev.hoist.promotion.target'] !== undefined).slice(-1),
      );
      assert.ok(ref);
      assert.equal(ref.artifactType, DSSE);
      const manifest = JSON.parse((await get(`/v2/${repo('prod')}/manifests/${ref.digest}`)).toString('utf8')) as {
        subject: { digest: string };
        config: { mediaType: string };
        layers: Array<{ digest: string; mediaType: string; annotations: Record<string, string> }>;
      };
      assert.equal(manifest.subject.digest, image.digest);
      assert.equal(manifest.config.mediaType, MediaTypes.ociEmpty);
      assert.deepEqual(
        manifest.layers.map((l) => [l.mediaType, l.annotations.predicateType]),
        [
          [DSSE, VSA],
          [DSSE, PROMOTION],
        ],
      );
      const dir = mkdtempSync(join(tmpdir(), 'hoist-openssl-'));
      writeFileSync(join(dir, 'pub.pem'), hoistPem);
      const statements: Record<string, Record<string, unknown>> = {};
      for (const layer of manifest.layers) {
        const envelope = JSON.parse((await get(`/v2/${repo('prod')}/blobs/${layer.digest}`, '*/*')).toString()) as {
          payloadType: string;
          payload: string;
          signatures: Array<{ keyid: string; sig: string }>;
        };
        assert.equal(envelope.payloadType, IN_TOTO);
        const payload = Buffer.from(envelope.payload, 'base64');
        writeFileSync(join(dir, 'pae.bin'), pae(envelope.payloadType, payload));
        writeFileSync(join(dir, 'sig.der'), Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64'));
        const out = execFileSync(
          'openssl',
          ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', 'pae.bin'],
          { cwd: dir },
        ).toString();
        assert.match(out, /Verified OK/);
        writeFileSync(join(dir, 'pae.bin'), pae(envelope.payloadType, Buffer.concat([payload, Buffer.from(' ')])));
        assert.throws(
          () =>
            execFileSync('openssl', ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', 'pae.bin'], {
              cwd: dir,
              stdio: 'pipe',
            }),
          'one byte more and openssl refuses it',
        );
        const keyDer = execFileSync('openssl', ['pkey', '-pubin', '-in', 'pub.pem', '-outform', 'DER'], { cwd: dir });
        assert.equal(envelope.signatures[0]?.keyid, `sha256:${createHash('sha256').update(keyDer).digest('hex')}`);
        const s = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
        statements[s.predicateType as string] = s;
      }
      // in-toto Statement v1: _type, subject[{name, digest{sha256}}], predicateType, predicate.
      for (const s of Object.values(statements)) {
        assert.deepEqual(Object.keys(s).sort(), ['_type', 'predicate', 'predicateType', 'subject']);
        assert.equal(s._type, 'https://in-toto.io/Statement/v1');
        assert.deepEqual(s.subject, [
          { name: `${reg.host}/${repo('prod')}`, digest: { sha256: image.digest.slice(7) } },
        ]);
      }
      // SLSA VSA v1 field names, as published at https://slsa.dev/spec/v1.0/verification_summary.
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON is read field by field
      const vsa = statements[VSA]?.predicate as Record<string, any>;
      assert.deepEqual(Object.keys(vsa).sort(), [
        'inputAttestations',
        'policy',
        'resourceUri',
        'slsaVersion',
        'timeVerified',
        'verificationResult',
        'verifiedLevels',
        'verifier',
      ]);
      assert.equal(vsa.verifier.id, 'https://hoist.example.test');
      assert.equal(vsa.verificationResult, 'PASSED');
      assert.equal(vsa.resourceUri, `${reg.host}/${repo('prod')}@${image.digest}`);
      assert.match(vsa.policy.digest.sha256, /^[0-9a-f]{64}$/);
      assert.equal(vsa.policy.uri, 'https://hoist.example.test/api/v1/policies/prod-gate?version=1');
      assert.ok(!Number.isNaN(Date.parse(vsa.timeVerified)));
      assert.deepEqual(vsa.verifiedLevels, ['SLSA_BUILD_LEVEL_0']);
      assert.equal(vsa.inputAttestations.length, 1, 'the verified cosign signature it relied on');
      assert.match(vsa.inputAttestations[0].digest.sha256, /^[0-9a-f]{64}$/);
      assert.equal(vsa.inputAttestations[0].annotations.signer, 'release-key');
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON is read field by field
      const promotion = statements[PROMOTION]?.predicate as Record<string, any>;
      assert.deepEqual([promotion.from.environment, promotion.to.environment], ['staging', 'prod']);
      assert.match(promotion.previous, /^sha256:[0-9a-f]{64}$/);
    });

    test('prod → prod-eu carries the earlier attestations and adds its own; the chain reaches prod-eu', async () => {
      await promote('prod', 'prod-eu');
      await runAll();
      assert.equal((await hoistReferrers(repo('prod-eu'), image.digest)).length, 3);
      const r = await chain(repo('prod-eu'), image.digest, 'prod-eu', [hoistPem]);
      assert.equal(r.verdict.ok, true, JSON.stringify(r.verdict));
      assert.deepEqual(
        r.verdict.chain.map((a) => a.promotion?.to.environment),
        ['staging', 'prod', 'prod-eu'],
      );
    });

    test('another key, a tampered envelope, an attestation moved to another digest: refused with the reason', async () => {
      const wrong = await chain(repo('prod'), image.digest, 'prod', [strangerKey.publicPem]);
      assert.equal(wrong.verdict.ok, false);
      assert.match(wrong.verdict.ok ? '' : wrong.verdict.reason, /does not verify with key0/);

      // The real envelopes of prod's attestation, on the other image's digest: signed for the first digest only.
      const [ref] = (await hoistReferrers(repo('prod'), image.digest)).slice(-1);
      const m = JSON.parse((await get(`/v2/${repo('prod')}/manifests/${ref?.digest}`)).toString()) as {
        layers: Array<{ digest: string }>;
      };
      const envelopes = await Promise.all(m.layers.map((l) => get(`/v2/${repo('prod')}/blobs/${l.digest}`, '*/*')));
      await pushImage(reg.url, repo('forged'), other, { tag: 'x' });
      await pushReferrer(reg.url, repo('forged'), referrerWith(other, envelopes));
      const moved = await chain(repo('forged'), other.digest, 'prod', [hoistPem]);
      assert.equal(moved.verdict.ok, false);
      assert.match(moved.verdict.ok ? '' : moved.verdict.reason, new RegExp(`signed for ${image.digest}`));

      // Tampered: the promotion statement says another approver, the signature left as it was.
      const tampered = envelopes.map((e) => {
        const env = JSON.parse(e.toString()) as { payload: string };
        const s = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as { predicate: { approvals: unknown } };
        s.predicate.approvals = [{ username: 'mallory', at: new Date().toISOString() }];
        return Buffer.from(JSON.stringify({ ...env, payload: Buffer.from(JSON.stringify(s)).toString('base64') }));
      });
      const victim = buildImage({ layers: [200] });
      await pushImage(reg.url, repo('forged'), victim, { tag: 'y' });
      const resubjected = tampered.map((e) =>
        resign(e, strangerKey, (s) => {
          s.subject = [{ name: 'x', digest: { sha256: victim.digest.slice(7) } }];
        }),
      );
      await pushReferrer(reg.url, repo('forged'), referrerWith(victim, resubjected));
      const forged = await chain(repo('forged'), victim.digest, 'prod', [hoistPem]);
      assert.equal(forged.verdict.ok, false);
      assert.match(forged.verdict.ok ? '' : forged.verdict.reason, /does not verify/);
      await pushReferrer(reg.url, repo('forged'), referrerWith(other, tampered));
      const edited = await chain(repo('forged'), other.digest, 'prod', [hoistPem]);
      assert.equal(edited.verdict.ok, false);
      assert.match(
        edited.attestations.map((a) => a.reason).join('\n'),
        /does not verify with key0 .*tampered/,
        'the tampered one is named as not verifying',
      );
    });

    test('a retry, a second replica and a stale worker attach no second attestation', async () => {
      await promote('dev', 'staging', other.digest);
      await runPromotions();
      const claim = await claimJob(api.database.db, ATTESTATION_JOBS, new Date(), 60_000);
      assert.ok(claim, 'the attestation job is claimed');
      const j = await loadAttestationJob(api.database.db, claim.id);
      const job = { ...claim, signal: new AbortController().signal };
      const replicaA = new PromotionAttestor(api.database.db, api.services.signingKeys, api.services.registries);
      const replicaB = new PromotionAttestor(api.database.db, api.services.signingKeys, api.services.registries);
      await assert.rejects(
        replicaB.attach({ ...job, token: claim.token - 1 }, j),
        /lease was lost/,
        'a worker whose claim was taken over keeps nothing',
      );
      assert.equal((await hoistReferrers(repo('staging'), other.digest)).length, 0, '...and pushes nothing');
      const first = await replicaA.attach(job, j);
      const again = await replicaA.attach(job, j);
      const fromB = await replicaB.attach(job, j);
      assert.deepEqual([again.manifest, fromB.manifest], [first.manifest, first.manifest]);
      assert.equal((await hoistReferrers(repo('staging'), other.digest)).length, 1, 'one referrer, pushed three times');
    });

    test('rotation: admins only; the old key stays listed and still verifies what it signed', async () => {
      assert.equal((await as('devon', 'POST', '/api/v1/signing-key/rotate')).status, 403);
      const rotated = await as('root', 'POST', '/api/v1/signing-key/rotate');
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const keys = (await as('devon', 'GET', '/api/v1/signing-key')).body.items as Array<{
        current: boolean;
        publicKey: string;
      }>;
      assert.deepEqual(
        keys.map((k) => k.current),
        [true, false],
      );
      assert.equal(keys[1]?.publicKey, hoistPem);
      const old = await chain(repo('prod'), image.digest, 'prod', [hoistPem]);
      assert.equal(old.verdict.ok, true);
      const gate = await as('devon', 'GET', `${P}/environments/prod/attestation?digest=${image.digest}`);
      assert.equal(gate.body.verified, true, 'the gate checks with retired keys too');
    });
  });
}
