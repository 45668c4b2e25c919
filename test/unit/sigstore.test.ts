/**
 * Sigstore bundles judged on bytes (src/trust/verify.ts with src/trust/sigstore.ts): bundles made by
 * test/harness/sigstore.ts (a Fulcio-like CA with SCTs, a Rekor-like log, all offline), for an image's manifest.
 * A valid bundle from a trusted identity verifies and names the root; the same bundle with an identity not trusted
 * does not, and says who signed it; a bundle over another digest, a tampered signature and a certificate from a CA
 * the trusted root does not list never verify; an identity by RE2 pattern; a DSSE attestation bundle; cosign v3's
 * DSSE image signature; the trusted root and identity refused with reasons.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildImage } from '../harness/images.ts';
import { slsaProvenanceV1 } from '../harness/cosign.ts';
import { dsseBundle, GITHUB_ISSUER, messageBundle, startSigstore } from '../harness/sigstore.ts';
import { identityProblem, parseTrustedRoot, type SigstoreIdentity } from '../../src/trust/sigstore.ts';
import { verifyEvidence, type Evidence, type SigstoreRoot } from '../../src/trust/verify.ts';

const WORKFLOW = 'https://github.com/shop/web/.github/workflows/release.yml@refs/heads/main';
const image = buildImage({ layers: [100] });
const other = buildImage({ layers: [100] });
const artifact = { digest: image.digest, registryHost: 'registry.test', repository: 'dev/web' };

const sigstore = await startSigstore();
const stranger = await startSigstore();

function root(name: string, identity: SigstoreIdentity, trustedRoot = sigstore.trustedRoot()): SigstoreRoot {
  const parsed = parseTrustedRoot(trustedRoot);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  return { name, fingerprint: parsed.value.fingerprint, identity, trustedRoot: parsed.value };
}

const evidence = (bundle: Buffer, signed: Buffer | null = image.bytes): Evidence => ({
  kind: 'sigstore',
  manifest: 'sha256:' + '0'.repeat(64),
  source: 'referrer',
  bundle: bundle.toString('base64'),
  signed: signed === null ? null : signed.toString('base64'),
});

const release = root('release-key', { issuer: GITHUB_ISSUER, subject: WORKFLOW });
const judge = (e: Evidence, roots: SigstoreRoot[] = [release]) => verifyEvidence([e], artifact, [], new Date(), roots);

test('a message-signature bundle from the trusted identity verifies: signature.verified, the root named', async () => {
  const v = judge(evidence(await messageBundle(sigstore, image.bytes, { subject: WORKFLOW })));
  assert.deepEqual([v.verified, v.signers], [true, ['release-key']], JSON.stringify(v.checks));
  assert.equal(v.checks[0]?.type, 'signature');
  assert.deepEqual(v.checks[0]?.identity, { issuer: GITHUB_ISSUER, subject: WORKFLOW });
  assert.deepEqual(v.roots, [{ name: 'release-key', fingerprint: release.fingerprint }]);
});

test('the same bundle with an identity the project does not trust is not verified, and says who signed', async () => {
  const bundle = await messageBundle(sigstore, image.bytes, { subject: WORKFLOW });
  for (const identity of [
    { issuer: GITHUB_ISSUER, subject: 'https://github.com/shop/other/.github/workflows/release.yml@refs/heads/main' },
    { issuer: 'https://accounts.google.com', subject: WORKFLOW },
  ]) {
    const v = judge(evidence(bundle), [root('release-key', identity)]);
    assert.deepEqual([v.verified, v.signers], [false, []]);
    assert.match(v.checks[0]?.reason ?? '', /signed by https:\/\/github.com\/shop\/web\/.* an identity no trust root/);
  }
});

test('an identity by RE2 pattern: matches where the pattern does, and a bad pattern is refused', async () => {
  const bundle = evidence(await messageBundle(sigstore, image.bytes, { subject: WORKFLOW }));
  const byPattern = (subjectRegex: string) =>
    judge(bundle, [root('release-key', { issuer: GITHUB_ISSUER, subjectRegex })]).verified;
  assert.equal(byPattern('^https://github\\.com/shop/web/\\.github/workflows/[a-z]+\\.yml@refs/heads/main$'), true);
  assert.equal(byPattern('^https://github\\.com/shop/api/'), false);
  assert.match(identityProblem({ issuer: GITHUB_ISSUER, subjectRegex: '(a)\\1' })?.error ?? '', /backreferences/);
  assert.match(identityProblem({ issuer: GITHUB_ISSUER })?.error ?? '', /subject/);
  assert.match(identityProblem({ issuer: GITHUB_ISSUER, issuerRegex: '.*', subject: 'x' })?.error ?? '', /one of/);
});

test('a bundle over another digest, a tampered signature, a CA not in the trusted root: never verified', async () => {
  const otherDigest = judge(evidence(await messageBundle(sigstore, other.bytes, { subject: WORKFLOW }), other.bytes));
  assert.equal(otherDigest.verified, false);
  assert.match(otherDigest.checks[0]?.reason ?? '', /the bundle signs sha256:[0-9a-f]{64}, not this artifact/);

  const tampered = judge(
    evidence(await messageBundle(sigstore, image.bytes, { subject: WORKFLOW, tamperSignature: true })),
  );
  assert.equal(tampered.verified, false);
  assert.match(tampered.checks[0]?.reason ?? '', /does not verify against any trusted root.*(SIGNATURE|TLOG)/);

  const foreign = judge(evidence(await messageBundle(stranger, image.bytes, { subject: WORKFLOW })));
  assert.equal(foreign.verified, false);
  assert.match(foreign.checks[0]?.reason ?? '', /CERTIFICATE_ERROR/);

  const unread = judge(evidence(await messageBundle(sigstore, image.bytes, { subject: WORKFLOW }), null));
  assert.match(unread.checks[0]?.reason ?? '', /were not read/);
});

test('a DSSE bundle of SLSA provenance about this digest is a verified attestation, with its provenance', async () => {
  const statement = {
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: slsaProvenanceV1('https://github.com/actions/runner', 'https://github.com/shop/web'),
    name: 'registry.test/dev/web',
  };
  const good = judge(evidence(await dsseBundle(sigstore, image.digest, statement, { subject: WORKFLOW }), null));
  assert.deepEqual(good.attestations, [
    { predicateType: 'https://slsa.dev/provenance/v1', signer: 'release-key', verified: true },
  ]);
  assert.deepEqual(good.provenance, {
    builder: 'https://github.com/actions/runner',
    sourceRepo: 'https://github.com/shop/web',
  });
  assert.equal(good.verified, false, 'an attestation is not an image signature');
  const elsewhere = judge(evidence(await dsseBundle(sigstore, other.digest, statement, { subject: WORKFLOW }), null));
  assert.match(elsewhere.checks[0]?.reason ?? '', /no subject of the statement is this artifact/);
  const tampered = judge(
    evidence(await dsseBundle(sigstore, image.digest, statement, { subject: WORKFLOW, tamperSignature: true }), null),
  );
  assert.equal(tampered.attestations[0]?.verified, false);
});

test("cosign v3's image signature (a DSSE bundle of predicate https://sigstore.dev/cosign/sign/v1) is a signature", async () => {
  const statement = {
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
    name: 'registry.test/dev/web',
  };
  const v = judge(evidence(await dsseBundle(sigstore, image.digest, statement, { subject: WORKFLOW }), null));
  assert.deepEqual([v.verified, v.signers, v.attestations], [true, ['release-key'], []], JSON.stringify(v.checks));
  assert.equal(v.checks[0]?.type, 'signature');
});

test('a trusted root that is no trusted root is refused with the reason', () => {
  assert.match((parseTrustedRoot('{') as { error: string }).error, /not JSON/);
  assert.match((parseTrustedRoot('{"mediaType":"x"}') as { error: string }).error, /not a Sigstore trusted root/);
  const noCa = JSON.parse(sigstore.trustedRoot()) as Record<string, unknown>;
  noCa.certificateAuthorities = [];
  assert.match((parseTrustedRoot(JSON.stringify(noCa)) as { error: string }).error, /no certificate authority/);
  const parsed = parseTrustedRoot(sigstore.trustedRoot());
  assert.ok(parsed.ok);
  assert.deepEqual(
    [parsed.value.certificateAuthorities, parsed.value.tlogs, parsed.value.ctlogs, parsed.value.timestampAuthorities],
    [1, 1, 1, 0],
  );
});
