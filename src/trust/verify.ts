/**
 * Judging the signatures and attestations attached to one artifact against a project's trust roots, purely: the
 * evidence (bytes hoist read from the registry, kept with the artifact) and the roots in, one check per piece of
 * evidence out, each with its signer (the trust root whose key verified it) or the reason it is not trusted.
 *
 * A cosign signature is trusted when its simple-signing payload names this artifact's digest, its docker-reference
 * names this artifact's registry host and repository (a signature made for the same digest in another repository
 * does not vouch for this one), and a trusted key verifies the signature over the payload bytes exactly as stored.
 * An attestation is trusted when a trusted key verifies a DSSE signature over PAE(payloadType, payload), the payload
 * is an in-toto Statement, and one of its subjects is this digest; its predicate type is read from the signed
 * payload, never from an annotation beside it. In-toto binds attestations by digest only (a subject's name is
 * informational), so no repository is checked for them.
 *
 * A Sigstore bundle is trusted when a root naming a Sigstore identity verifies it against that root's trusted root
 * (sigstore.ts) and the certificate's issuer and subject are that identity; a message signature must sign this
 * digest (its manifest's bytes), a DSSE envelope an in-toto Statement about it. A bundle's DSSE Statement of cosign's
 * own signing predicate counts as a signature, any other predicate as an attestation.
 */
import { createHash } from 'node:crypto';
import {
  COSIGN_SIGNATURE_TYPE,
  fromBase64,
  IN_TOTO_TYPE,
  pae,
  parseDsseEnvelope,
  parseSimpleSigning,
  parseStatement,
  provenanceOf,
  type Provenance,
} from './formats.ts';
import { verifySignature, type PublicKeyInfo } from './keys.ts';
import {
  describeIdentity,
  identityMatches,
  readBundle,
  verifyBundle,
  type SigstoreIdentity,
  type TrustedRoot,
} from './sigstore.ts';

/** What hoist read from the registry for one signature or attestation (base64 keeps the exact bytes in JSON). */
export type Evidence =
  | {
      kind: 'cosign';
      /** The referrer (or `.sig` tag) manifest it came from. */
      manifest: string;
      source: 'referrer' | 'tag';
      payload: string;
      /** The `dev.cosignproject.cosign/signature` annotation, as found (absent: unsigned). */
      signature: string | null;
    }
  | { kind: 'dsse'; manifest: string; source: 'referrer' | 'tag'; envelope: string }
  | {
      kind: 'sigstore';
      manifest: string;
      source: 'referrer' | 'tag';
      /** The bundle's JSON bytes. */
      bundle: string;
      /** For a message signature: the image manifest's bytes, which it signs (null: not read). */
      signed: string | null;
    };

/** A trust root naming a Sigstore identity, with the trusted root its certificates must chain to. */
export interface SigstoreRoot {
  name: string;
  /** Identifies identity and trusted root together (sha256, hex). */
  fingerprint: string;
  identity: SigstoreIdentity;
  trustedRoot: TrustedRoot;
}

/** cosign's predicate for an image signature made as a DSSE bundle (`cosign sign --new-bundle-format`). */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

export interface TrustRootKey extends PublicKeyInfo {
  name: string;
}

export interface ArtifactIdentity {
  digest: string;
  /** host[:port] of the registry the artifact is in. */
  registryHost: string;
  repository: string;
}

export interface Check {
  type: 'signature' | 'attestation';
  manifest: string;
  source: 'referrer' | 'tag';
  /** For an attestation: the Statement's predicateType (read even when unverified, then not to be relied on). */
  predicateType: string | null;
  /** The (first) trust root that verified it; null when none did. */
  signer: string | null;
  /** Every trust root whose key verifies it (several names may hold the same key). */
  signers: string[];
  verified: boolean;
  /** Why it is trusted, or why not. */
  reason: string;
  /** A Sigstore bundle's certificate identity, when its certificate verified against some trusted root. */
  identity?: { issuer: string; subject: string };
}

export interface TrustResult {
  checkedAt: string;
  /** The roots it was checked against (name and key fingerprint). */
  roots: Array<{ name: string; fingerprint: string }>;
  checks: Check[];
  /** Some cosign signature verified. */
  verified: boolean;
  /** The roots that verified a cosign signature, sorted. */
  signers: string[];
  attestations: Array<{ predicateType: string; signer: string; verified: boolean }>;
  /** From the last verified SLSA provenance attestation. */
  provenance: Provenance | null;
}

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** host and path of a docker reference (tag or digest dropped), with Docker Hub's defaults. */
export function splitDockerReference(reference: string): { host: string; path: string } {
  const noDigest = reference.split('@')[0] ?? '';
  const slash = noDigest.indexOf('/');
  const first = slash < 0 ? '' : noDigest.slice(0, slash);
  const hasHost = first.includes('.') || first.includes(':') || first === 'localhost';
  let host = hasHost ? first : 'docker.io';
  let path = hasHost ? noDigest.slice(slash + 1) : noDigest;
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) path = path.slice(0, colon);
  if (DOCKER_HUB.has(host)) {
    host = 'docker.io';
    if (!path.includes('/')) path = `library/${path}`;
  }
  return { host: host.toLowerCase(), path };
}

function sameRepository(reference: string, a: ArtifactIdentity): boolean {
  const ref = splitDockerReference(reference);
  const mine = splitDockerReference(`${a.registryHost}/${a.repository}`);
  return ref.host === mine.host && ref.path === mine.path;
}

const signersOf = (roots: readonly TrustRootKey[], message: Buffer, sig: Buffer): string[] =>
  roots.filter((r) => verifySignature(r, message, sig)).map((r) => r.name);

const verifiedBy = (signers: string[]) => ({
  signer: signers[0] ?? null,
  signers,
  verified: true,
  reason: `verified with ${signers.join(', ')}`,
});

function checkCosign(e: Extract<Evidence, { kind: 'cosign' }>, a: ArtifactIdentity, roots: readonly TrustRootKey[]) {
  const base = { type: 'signature' as const, manifest: e.manifest, source: e.source, predicateType: null };
  const no = (reason: string): Check => ({ ...base, signer: null, signers: [], verified: false, reason });
  const payload = fromBase64(e.payload) ?? Buffer.alloc(0);
  const parsed = parseSimpleSigning(payload);
  if (!parsed.ok) return no(parsed.error);
  if (parsed.value.type !== COSIGN_SIGNATURE_TYPE) return no(`the payload's type is "${parsed.value.type}"`);
  if (parsed.value.digest !== a.digest) return no(`the payload names ${parsed.value.digest}, not this artifact`);
  if (!sameRepository(parsed.value.dockerReference, a))
    return no(`signed for ${parsed.value.dockerReference}, not ${a.registryHost}/${a.repository}`);
  const sig = e.signature === null ? undefined : fromBase64(e.signature);
  if (sig === undefined || sig.length === 0) return no('no signature annotation (dev.cosignproject.cosign/signature)');
  if (roots.length === 0) return no('the project has no trust roots');
  const signers = signersOf(roots, payload, sig);
  if (signers.length === 0) return no('no trust root of the project verifies the signature');
  return { ...base, ...verifiedBy(signers) };
}

function checkDsse(
  e: Extract<Evidence, { kind: 'dsse' }>,
  a: ArtifactIdentity,
  roots: readonly TrustRootKey[],
): Check & { provenance?: Provenance } {
  const base = { type: 'attestation' as const, manifest: e.manifest, source: e.source };
  const envelope = parseDsseEnvelope(fromBase64(e.envelope) ?? Buffer.alloc(0));
  if (!envelope.ok)
    return { ...base, predicateType: null, signer: null, signers: [], verified: false, reason: envelope.error };
  const statement =
    envelope.value.payloadType === IN_TOTO_TYPE
      ? parseStatement(envelope.value.payload)
      : { ok: false as const, error: `the payloadType is ${envelope.value.payloadType}, not ${IN_TOTO_TYPE}` };
  const predicateType = statement.ok ? statement.value.predicateType : null;
  const no = (reason: string) => ({ ...base, predicateType, signer: null, signers: [], verified: false, reason });
  if (!statement.ok) return no(statement.error);
  if (!statement.value.subjects.includes(a.digest)) return no('no subject of the statement is this artifact');
  if (roots.length === 0) return no('the project has no trust roots');
  const message = pae(envelope.value.payloadType, envelope.value.payload);
  const signers = [...new Set(envelope.value.signatures.flatMap((s) => signersOf(roots, message, s.sig)))];
  if (signers.length === 0) return no('no trust root of the project verifies a signature of the envelope');
  const provenance = provenanceOf(statement.value.predicateType, statement.value.predicate);
  return { ...base, predicateType, ...verifiedBy(signers), ...(provenance ? { provenance } : {}) };
}

function checkSigstore(
  e: Extract<Evidence, { kind: 'sigstore' }>,
  a: ArtifactIdentity,
  roots: readonly SigstoreRoot[],
): Check & { provenance?: Provenance } {
  const base = { manifest: e.manifest, source: e.source };
  const bytes = fromBase64(e.bundle) ?? Buffer.alloc(0);
  const read = readBundle(bytes);
  if (!read.ok)
    return {
      ...base,
      type: 'signature',
      predicateType: null,
      signer: null,
      signers: [],
      verified: false,
      reason: read.error,
    };
  const content = read.value.content;
  let statement: ReturnType<typeof parseStatement> | undefined;
  if (content.kind === 'dsse')
    statement =
      content.payloadType === IN_TOTO_TYPE
        ? parseStatement(content.payload)
        : { ok: false, error: `the payloadType is ${content.payloadType}, not ${IN_TOTO_TYPE}` };
  const predicateType = statement?.ok ? statement.value.predicateType : null;
  const type = content.kind === 'message' || predicateType === COSIGN_SIGN_PREDICATE ? 'signature' : 'attestation';
  const no = (reason: string, identity?: Check['identity']): Check => ({
    ...base,
    type,
    predicateType: type === 'attestation' ? predicateType : null,
    signer: null,
    signers: [],
    verified: false,
    reason,
    ...(identity ? { identity } : {}),
  });
  if (statement !== undefined && !statement.ok) return no(statement.error);
  if (statement?.ok && !statement.value.subjects.includes(a.digest))
    return no('no subject of the statement is this artifact');
  if (content.kind === 'message' && content.digest !== a.digest)
    return no(`the bundle signs ${content.digest}, not this artifact`);
  const signed = e.signed === null ? undefined : fromBase64(e.signed);
  if (content.kind === 'message' && (signed === undefined || sha256(signed) !== a.digest))
    return no("the image manifest's bytes, which the bundle signs, were not read");
  if (roots.length === 0) return no('no trust root of the project is a Sigstore identity');
  const signers: string[] = [];
  let identity: Check['identity'];
  const failures: string[] = [];
  for (const r of roots) {
    const v = verifyBundle(read.value, bytes, content.kind === 'message' ? signed : undefined, r.trustedRoot);
    if (!v.ok) {
      failures.push(`${r.name}: ${v.error}`);
      continue;
    }
    identity = { issuer: v.issuer, subject: v.subject };
    if (identityMatches(r.identity, v)) signers.push(r.name);
  }
  if (signers.length === 0) {
    if (identity)
      return no(
        `signed by ${identity.subject} (issuer ${identity.issuer}), an identity no trust root of the project accepts (${roots
          .map((r) => `${r.name}: ${describeIdentity(r.identity)}`)
          .join('; ')})`,
        identity,
      );
    return no(`the bundle does not verify against any trusted root of the project: ${failures.join('; ')}`);
  }
  const provenance = statement?.ok ? provenanceOf(statement.value.predicateType, statement.value.predicate) : undefined;
  return {
    ...base,
    type,
    predicateType: type === 'attestation' ? predicateType : null,
    ...verifiedBy(signers),
    ...(identity ? { identity } : {}),
    ...(provenance ? { provenance } : {}),
  };
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export function verifyEvidence(
  evidence: readonly Evidence[],
  artifact: ArtifactIdentity,
  roots: readonly TrustRootKey[],
  now: Date,
  sigstoreRoots: readonly SigstoreRoot[] = [],
): TrustResult {
  const checks: Check[] = [];
  let provenance: Provenance | null = null;
  for (const e of evidence) {
    if (e.kind === 'cosign') {
      checks.push(checkCosign(e, artifact, roots));
      continue;
    }
    const { provenance: p, ...check } =
      e.kind === 'dsse' ? checkDsse(e, artifact, roots) : checkSigstore(e, artifact, sigstoreRoots);
    if (p) provenance = p;
    checks.push(check);
  }
  const signatures = checks.filter((c) => c.type === 'signature' && c.verified);
  return {
    checkedAt: now.toISOString(),
    roots: [...roots, ...sigstoreRoots]
      .map((r) => ({ name: r.name, fingerprint: r.fingerprint }))
      .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
    checks,
    verified: signatures.length > 0,
    signers: [...new Set(signatures.flatMap((c) => c.signers))].sort(),
    attestations: checks
      .filter((c) => c.type === 'attestation')
      .map((c) => ({ predicateType: c.predicateType ?? '', signer: c.signer ?? '', verified: c.verified })),
    provenance,
  };
}
