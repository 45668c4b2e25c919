/**
 * Verification of cosign signatures and DSSE attestations on bytes: each made with node:crypto in the wire format
 * (test/harness/cosign.ts), judged by src/trust against trust roots, and the policy variables that follow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  attestation,
  cosignSignature,
  cosignSignatureImage,
  generateKey,
  slsaProvenanceV02,
  slsaProvenanceV1,
  type TestKey,
} from '../harness/cosign.ts';
import { buildImage, type TestManifest } from '../harness/images.ts';
import { pae } from '../../src/trust/formats.ts';
import { parsePublicKey } from '../../src/trust/keys.ts';
import { splitDockerReference, verifyEvidence, type Evidence, type TrustRootKey } from '../../src/trust/verify.ts';
import { policyVariables } from '../../src/policy/inputs.ts';
import { evaluatePolicy } from '../../src/policy/evaluate.ts';

const HOST = '127.0.0.1:5000';
const image = buildImage({ layers: [100] });
const other = buildImage({ layers: [100] });
const artifact = { digest: image.digest, registryHost: HOST, repository: 'shop/web' };
const REF = `${HOST}/shop/web`;
const NOW = new Date('2026-12-03T17:00:00Z');

const releaseKey = generateKey('ecdsa');
const strangerKey = generateKey('ecdsa');

function root(name: string, key: TestKey): TrustRootKey {
  const parsed = parsePublicKey(key.publicPem);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  return { name, ...parsed.value };
}
const ROOTS = [root('release-key', releaseKey)];

/** What hoist reads from a signature or attestation manifest (as read-evidence.ts does from the registry). */
function evidenceOf(m: TestManifest, source: 'referrer' | 'tag' = 'referrer'): Evidence[] {
  const doc = JSON.parse(m.bytes.toString('utf8')) as {
    layers: Array<{ mediaType: string; digest: string; annotations?: Record<string, string> }>;
  };
  return doc.layers.map((l) => {
    const data = m.blobs.find((b) => b.digest === l.digest)?.data ?? Buffer.alloc(0);
    return l.mediaType === 'application/vnd.dsse.envelope.v1+json'
      ? { kind: 'dsse', manifest: m.digest, source, envelope: data.toString('base64') }
      : {
          kind: 'cosign',
          manifest: m.digest,
          source,
          payload: data.toString('base64'),
          signature: l.annotations?.['dev.cosignproject.cosign/signature'] ?? null,
        };
  });
}

const judge = (m: TestManifest, roots = ROOTS) => verifyEvidence(evidenceOf(m), artifact, roots, NOW);

test('PAE is the DSSE spec example, byte for byte', () => {
  assert.equal(
    pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString(),
    'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
  );
  assert.equal(pae('tybé', Buffer.from('x')).toString('latin1'), 'DSSEv1 5 tyb\u00c3\u00a9 1 x', 'LEN counts bytes');
});

test('trust roots: P-256, Ed25519 and RSA public keys are accepted; other curves, short RSA and private keys are not', () => {
  for (const kind of ['ecdsa', 'ed25519', 'rsa'] as const) {
    const k = parsePublicKey(generateKey(kind).publicPem);
    assert.ok(k.ok && /^[0-9a-f]{64}$/.test(k.value.fingerprint), kind);
  }
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' });
  assert.match(
    String(!parsePublicKey(p384.toString()).ok && (parsePublicKey(p384.toString()) as { error: string }).error),
    /P-256/,
  );
  const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
  assert.equal(parsePublicKey(short.toString()).ok, false);
  const priv = releaseKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const refused = parsePublicKey(priv);
  assert.ok(!refused.ok && /private key/.test(refused.error));
  assert.equal(parsePublicKey('hello').ok, false);
  // The same key in another PEM spelling has the same fingerprint.
  const a = parsePublicKey(releaseKey.publicPem);
  const b = parsePublicKey(releaseKey.publicPem.replace(/\n/g, '\r\n'));
  assert.ok(a.ok && b.ok && a.value.fingerprint === b.value.fingerprint);
});

test('a valid cosign signature verifies, with the trust root that verified it, for each key type', () => {
  for (const kind of ['ecdsa', 'ed25519', 'rsa'] as const) {
    const key = generateKey(kind);
    const r = judge(cosignSignature(image, key, { dockerReference: REF }), [root('release-key', key)]);
    assert.equal(r.verified, true, `${kind}: ${r.checks[0]?.reason}`);
    assert.deepEqual(r.signers, ['release-key']);
    assert.deepEqual(
      r.checks.map((c) => [c.type, c.signer, c.verified, c.reason]),
      [['signature', 'release-key', true, 'verified with release-key']],
    );
  }
  const tagged = verifyEvidence(
    evidenceOf(cosignSignatureImage(image, releaseKey, { dockerReference: REF }), 'tag'),
    artifact,
    ROOTS,
    NOW,
  );
  assert.equal(tagged.verified, true, 'the .sig tag form');
  assert.equal(tagged.checks[0]?.source, 'tag');
});

test('signatures that must not be trusted: another digest, an unknown key, a tampered payload, another repository', () => {
  const cases: Array<[string, TestManifest, RegExp]> = [
    [
      'another digest',
      cosignSignature(image, releaseKey, { dockerReference: REF, digest: other.digest }),
      /names sha256:.*not this artifact/,
    ],
    [
      'unknown key',
      cosignSignature(image, strangerKey, { dockerReference: REF }),
      /no trust root of the project verifies/,
    ],
    [
      'tampered payload',
      cosignSignature(image, releaseKey, { dockerReference: REF, tamper: true }),
      /no trust root of the project verifies the signature/,
    ],
    [
      'another repository',
      cosignSignature(image, releaseKey, { dockerReference: `${HOST}/other/web` }),
      /signed for 127.0.0.1:5000\/other\/web, not 127.0.0.1:5000\/shop\/web/,
    ],
    [
      'another registry',
      cosignSignature(image, releaseKey, { dockerReference: 'registry.example/shop/web' }),
      /signed for registry.example/,
    ],
  ];
  for (const [name, m, reason] of cases) {
    const r = judge(m);
    assert.equal(r.verified, false, name);
    assert.deepEqual(r.signers, [], name);
    assert.match(r.checks[0]?.reason ?? '', reason, name);
  }
  // No roots at all: nothing verifies, and says so.
  assert.match(
    judge(cosignSignature(image, releaseKey, { dockerReference: REF }), []).checks[0]?.reason ?? '',
    /no trust roots/,
  );
});

test('docker references: Docker Hub defaults, tags and digests dropped', () => {
  assert.deepEqual(splitDockerReference('nginx'), { host: 'docker.io', path: 'library/nginx' });
  assert.deepEqual(splitDockerReference('index.docker.io/library/nginx:1'), {
    host: 'docker.io',
    path: 'library/nginx',
  });
  assert.deepEqual(splitDockerReference('localhost:5000/a/b@sha256:00'), { host: 'localhost:5000', path: 'a/b' });
  assert.deepEqual(splitDockerReference('ghcr.io/o/r:v1'), { host: 'ghcr.io', path: 'o/r' });
});

test('a DSSE SLSA provenance attestation verifies and gives builder and source; a tampered one does not', () => {
  const builder = 'https://github.com/actions/runner/github-hosted';
  const source = 'https://github.com/shop/web';
  const v1 = attestation(image, releaseKey, {
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: slsaProvenanceV1(builder, source),
    name: REF,
  });
  const good = judge(v1);
  assert.deepEqual(good.attestations, [
    { predicateType: 'https://slsa.dev/provenance/v1', signer: 'release-key', verified: true },
  ]);
  assert.deepEqual(good.provenance, { builder, sourceRepo: source });
  assert.equal(good.verified, false, 'an attestation is no image signature');

  const v02 = judge(
    attestation(image, releaseKey, {
      predicateType: 'https://slsa.dev/provenance/v0.2',
      predicate: slsaProvenanceV02(builder, source),
      name: REF,
      statementType: 'https://in-toto.io/Statement/v0.1',
    }),
  );
  assert.deepEqual(v02.provenance, { builder, sourceRepo: `git+${source}@refs/heads/main` });

  const cases: Array<[string, TestManifest, RegExp]> = [
    [
      'tampered',
      attestation(image, releaseKey, {
        predicateType: 'https://slsa.dev/provenance/v1',
        predicate: slsaProvenanceV1(builder, source),
        name: REF,
        tamper: true,
      }),
      /no trust root of the project verifies a signature of the envelope/,
    ],
    [
      'another subject',
      attestation(image, releaseKey, {
        predicateType: 'https://slsa.dev/provenance/v1',
        predicate: slsaProvenanceV1(builder, source),
        name: REF,
        digest: other.digest,
      }),
      /no subject of the statement is this artifact/,
    ],
    [
      'unknown key',
      attestation(image, strangerKey, {
        predicateType: 'https://slsa.dev/provenance/v1',
        predicate: slsaProvenanceV1(builder, source),
        name: REF,
      }),
      /no trust root/,
    ],
  ];
  for (const [name, m, reason] of cases) {
    const r = judge(m);
    assert.equal(r.attestations[0]?.verified, false, name);
    assert.equal(r.attestations[0]?.signer, '', name);
    assert.equal(r.provenance, null, `${name}: no provenance from an unverified attestation`);
    assert.match(r.checks[0]?.reason ?? '', reason, name);
  }
});

test('policy variables: only a valid signature by release-key passes `signature.verified && "release-key" in signature.signers`', () => {
  const policy = { pass: ['signature.verified && "release-key" in signature.signers'], fail: [] };
  const vars = (m: TestManifest | undefined) =>
    policyVariables({
      image: { repository: 'shop/web', tag: 'v1', digest: image.digest },
      signaturePresent: m !== undefined,
      trust: m === undefined ? null : judge(m),
    });
  const valid = vars(cosignSignature(image, releaseKey, { dockerReference: REF }));
  assert.deepEqual(valid.signature, { present: true, verified: true, signers: ['release-key'] });
  assert.equal(evaluatePolicy(policy, valid).allowed, true);
  for (const m of [
    undefined,
    cosignSignature(image, strangerKey, { dockerReference: REF }),
    cosignSignature(image, releaseKey, { dockerReference: `${HOST}/other/web` }),
  ]) {
    const v = vars(m);
    assert.equal((v.signature as { verified: boolean }).verified, false);
    assert.equal(evaluatePolicy(policy, v).allowed, false);
  }
  const noTrust = policyVariables({ image: { repository: 'r', tag: 't', digest: image.digest } });
  assert.deepEqual(noTrust.attestations, []);
  assert.deepEqual(noTrust.provenance, { builder: '', sourceRepo: '' });
});
