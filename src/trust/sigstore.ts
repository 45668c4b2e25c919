/**
 * Sigstore bundles (`application/vnd.dev.sigstore.bundle.v0.3+json`, as cosign attaches them to an image: the
 * referrer's one layer is the bundle) judged against a trust root that names a Sigstore identity: an OIDC issuer
 * and a subject (each exact or an RE2 pattern) whose certificates must chain to a trusted root the owner supplied as
 * a file (Sigstore's `trusted_root.json`: Fulcio CAs, Rekor and CT log keys, timestamp authorities). Nothing is
 * fetched: no TUF, no Rekor lookup; the trusted root in the file is the whole of what is trusted.
 *
 * The cryptography is `@sigstore/verify` (Sigstore's own maintained verifier): certificate chain to a CA of the
 * trusted root valid at the signing time, the embedded SCTs against its CT logs, the transparency-log entries (signed
 * entry timestamp or inclusion proof and checkpoint) against its Rekor keys and their bodies against the bundle, RFC
 * 3161 timestamps against its TSAs, and the signature. How many of each are required follows the trusted root: one
 * SCT when it lists CT logs, one log entry when it lists Rekor logs, and always at least one verified time (a log's
 * integrated time or a TSA timestamp), so a private deployment without a CT log can still be trusted, while a
 * trusted root that lists one cannot be side-stepped by a bundle without an SCT.
 *
 * What is signed must be this image: a message signature's digest must be the image's digest and the signature must
 * verify over the manifest's bytes; a DSSE envelope must hold an in-toto Statement whose subject is the digest
 * (verify.ts checks that; this module answers the envelope's payload). `@sigstore/verify` is loaded on first use
 * (about 75 ms), so a server or CLI that never meets a bundle never pays for it.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as SigstoreBundle from '@sigstore/bundle';
import type * as SigstoreSpecs from '@sigstore/protobuf-specs';
import type * as SigstoreVerify from '@sigstore/verify';
import { re2Matches, re2Problem } from '../policy/regex.ts';
import type { Parsed } from './formats.ts';

export const SIGSTORE_BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** Older spellings of the bundle media type, read as well. */
export const SIGSTORE_BUNDLE_TYPES = [
  SIGSTORE_BUNDLE_TYPE,
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
];
/** The OID of Fulcio's OIDC issuer extension (v2, DER UTF8String; v1 .1.1 is read too, by @sigstore/verify). */
export const FULCIO_ISSUER_OID = '1.3.6.1.4.1.57264.1.8';

export const MAX_TRUSTED_ROOT_LENGTH = 256 * 1024;
export const MAX_IDENTITY_LENGTH = 1024;

const load = createRequire(import.meta.url);
let libraries:
  { verify: typeof SigstoreVerify; bundle: typeof SigstoreBundle; specs: typeof SigstoreSpecs } | undefined;
function lib() {
  libraries ??= {
    verify: load('@sigstore/verify') as typeof SigstoreVerify,
    bundle: load('@sigstore/bundle') as typeof SigstoreBundle,
    specs: load('@sigstore/protobuf-specs') as typeof SigstoreSpecs,
  };
  return libraries;
}

/** Who may have signed: the certificate's OIDC issuer and its subject (SAN: e-mail or URI), each exact or RE2. */
export interface SigstoreIdentity {
  issuer?: string;
  issuerRegex?: string;
  subject?: string;
  subjectRegex?: string;
}

/** Why the identity is not one hoist accepts, or undefined: exactly one of issuer/issuerRegex and of subject/subjectRegex. */
export function identityProblem(id: SigstoreIdentity): { field: keyof SigstoreIdentity; error: string } | undefined {
  for (const [exact, regex, what] of [
    ['issuer', 'issuerRegex', 'OIDC issuer'],
    ['subject', 'subjectRegex', 'certificate subject'],
  ] as const) {
    const e = id[exact];
    const r = id[regex];
    if ((e === undefined || e === '') === (r === undefined || r === ''))
      return {
        field: exact,
        error: `name the ${what} exactly (${exact}) or by an RE2 pattern (${regex}), one of them`,
      };
    for (const [field, value] of [
      [exact, e],
      [regex, r],
    ] as const)
      if (value !== undefined && value.length > MAX_IDENTITY_LENGTH)
        return { field, error: `${field} is at most ${MAX_IDENTITY_LENGTH} characters` };
    if (r !== undefined && r !== '') {
      const problem = re2Problem(r);
      if (problem !== undefined) return { field: regex, error: problem };
    }
  }
  return undefined;
}

/** A pattern that cannot be matched within its bounds (regex.ts) does not recognise the signer: fail closed. */
function matchesOrNot(value: string, regex: string): boolean {
  try {
    return re2Matches(value, regex);
  } catch {
    return false;
  }
}

/** Whether a verified signer is this identity (patterns match anywhere, as cosign's `--certificate-identity-regexp`
 * does: anchor them with ^…$). */
export function identityMatches(id: SigstoreIdentity, signer: { issuer: string; subject: string }): boolean {
  const one = (exact: string | undefined, regex: string | undefined, value: string) =>
    exact !== undefined && exact !== '' ? exact === value : regex !== undefined && matchesOrNot(value, regex);
  return one(id.issuer, id.issuerRegex, signer.issuer) && one(id.subject, id.subjectRegex, signer.subject);
}

/** Only the identity's fields that are set (an empty string is not set). */
export const identityOf = (i: SigstoreIdentity): SigstoreIdentity => ({
  ...(i.issuer ? { issuer: i.issuer } : {}),
  ...(i.issuerRegex ? { issuerRegex: i.issuerRegex } : {}),
  ...(i.subject ? { subject: i.subject } : {}),
  ...(i.subjectRegex ? { subjectRegex: i.subjectRegex } : {}),
});

/** A Sigstore root's fingerprint: identity and trusted root together (either changing changes what is trusted). */
export function sigstoreRootFingerprint(identity: SigstoreIdentity, trustedRoot: string): string {
  const i = identityOf(identity);
  return createHash('sha256')
    .update(JSON.stringify([i.issuer ?? null, i.issuerRegex ?? null, i.subject ?? null, i.subjectRegex ?? null]))
    .update(trustedRootFingerprint(trustedRoot))
    .digest('hex');
}

/**
 * sha256 (hex) of the trusted root's JSON without its layout (JSON.stringify of the parse: members in their order,
 * no whitespace), so a file re-indented or given with a final newline (a YAML block) is the same root.
 */
export function trustedRootFingerprint(text: string): string {
  let canonical = text;
  try {
    canonical = JSON.stringify(JSON.parse(text));
  } catch {
    // Not JSON: its bytes as given (parseTrustedRoot refuses it anyway).
  }
  return createHash('sha256').update(canonical).digest('hex');
}

export const describeIdentity = (id: SigstoreIdentity): string =>
  `issuer ${id.issuer ?? `~/${id.issuerRegex ?? ''}/`}, subject ${id.subject ?? `~/${id.subjectRegex ?? ''}/`}`;

/** A trusted root read from its JSON: what it holds, and the verifier built on it (kept: building parses every key). */
export interface TrustedRoot {
  /** trustedRootFingerprint of the file. */
  fingerprint: string;
  certificateAuthorities: number;
  tlogs: number;
  ctlogs: number;
  timestampAuthorities: number;
  verifier: SigstoreVerify.Verifier;
}

const roots = new Map<string, Parsed<TrustedRoot>>();

/**
 * Reads a `trusted_root.json` (media type application/vnd.dev.sigstore.trustedroot+json); refuses one without a
 * certificate authority (identities are certificates) or without a source of verified time (a log or a TSA).
 */
export function parseTrustedRoot(text: string): Parsed<TrustedRoot> {
  if (text.length > MAX_TRUSTED_ROOT_LENGTH)
    return { ok: false, error: `a trusted root is at most ${MAX_TRUSTED_ROOT_LENGTH} characters` };
  const known = roots.get(text);
  if (known !== undefined) return known;
  const parsed = readTrustedRoot(text, trustedRootFingerprint(text));
  if (roots.size >= 64) roots.clear();
  roots.set(text, parsed);
  return parsed;
}

function readTrustedRoot(text: string, fingerprint: string): Parsed<TrustedRoot> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `the trusted root is not JSON: ${(e as Error).message}` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { ok: false, error: 'the trusted root is not a JSON object (Sigstore trusted_root.json)' };
  const mediaType = (doc as { mediaType?: unknown }).mediaType;
  if (typeof mediaType !== 'string' || !mediaType.startsWith('application/vnd.dev.sigstore.trustedroot'))
    return {
      ok: false,
      error: 'not a Sigstore trusted root (mediaType application/vnd.dev.sigstore.trustedroot+json;version=0.1)',
    };
  const { verify, specs } = lib();
  let material: SigstoreVerify.TrustMaterial;
  try {
    material = verify.toTrustMaterial(specs.TrustedRoot.fromJSON(doc));
  } catch (e) {
    return { ok: false, error: `the trusted root cannot be read: ${(e as Error).message}` };
  }
  const counts = {
    certificateAuthorities: material.certificateAuthorities.length,
    tlogs: material.tlogs.length,
    ctlogs: material.ctlogs.length,
    timestampAuthorities: material.timestampAuthorities.length,
  };
  if (counts.certificateAuthorities === 0)
    return { ok: false, error: 'the trusted root lists no certificate authority (Fulcio) to chain certificates to' };
  if (counts.tlogs === 0 && counts.timestampAuthorities === 0)
    return {
      ok: false,
      error:
        'the trusted root lists neither a transparency log nor a timestamp authority: signing times cannot be verified',
    };
  const verifier = new verify.Verifier(material, {
    tlogThreshold: counts.tlogs > 0 ? 1 : 0,
    ctlogThreshold: counts.ctlogs > 0 ? 1 : 0,
    timestampThreshold: 1,
  });
  return { ok: true, value: { fingerprint, ...counts, verifier } };
}

/** What a bundle signs, read before any check (so a failed check can still say what it was about). */
export type BundleContent =
  { kind: 'message'; digest: string } | { kind: 'dsse'; payloadType: string; payload: Buffer };

export interface ReadBundle {
  bundle: SigstoreBundle.Bundle;
  content: BundleContent;
}

/** Parses the bundle's JSON (shape checked by @sigstore/bundle); a message digest is answered as `sha256:<hex>`. */
export function readBundle(bytes: Buffer): Parsed<ReadBundle> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return { ok: false, error: `the Sigstore bundle is not JSON: ${(e as Error).message}` };
  }
  let bundle: SigstoreBundle.Bundle;
  try {
    bundle = lib().bundle.bundleFromJSON(doc);
  } catch (e) {
    return { ok: false, error: `not a Sigstore bundle: ${(e as Error).message}` };
  }
  const c = bundle.content;
  if (c.$case === 'dsseEnvelope')
    return {
      ok: true,
      value: {
        bundle,
        content: { kind: 'dsse', payloadType: c.dsseEnvelope.payloadType, payload: c.dsseEnvelope.payload },
      },
    };
  const d = c.messageSignature.messageDigest;
  const algorithm = d?.algorithm === lib().specs.HashAlgorithm.SHA2_256 ? 'sha256' : 'unsupported';
  return {
    ok: true,
    value: {
      bundle,
      content: { kind: 'message', digest: `${algorithm}:${Buffer.from(d?.digest ?? []).toString('hex')}` },
    },
  };
}

export type BundleVerdict = { ok: true; issuer: string; subject: string } | { ok: false; error: string };

const verdicts = new Map<string, BundleVerdict>();

/**
 * Verifies a bundle against a trusted root and answers who signed it (the certificate's issuer and subject), or why
 * it does not verify. `artifact` is the signed bytes of a message signature (the image manifest). Verdicts are kept
 * by (trusted root, bundle, artifact): a change of the project's identities judges again without the cryptography.
 */
export function verifyBundle(
  read: ReadBundle,
  bytes: Buffer,
  artifact: Buffer | undefined,
  root: TrustedRoot,
): BundleVerdict {
  const key = `${root.fingerprint}:${createHash('sha256').update(bytes).digest('hex')}:${
    artifact === undefined ? '' : createHash('sha256').update(artifact).digest('hex')
  }`;
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = runVerify(read, artifact, root);
    if (verdicts.size >= 4096) verdicts.clear();
    verdicts.set(key, verdict);
  }
  return verdict;
}

function runVerify(read: ReadBundle, artifact: Buffer | undefined, root: TrustedRoot): BundleVerdict {
  if (read.bundle.verificationMaterial.content.$case === 'publicKey')
    return { ok: false, error: 'the bundle is signed by a key, not a certificate: trust its public key instead' };
  if (read.content.kind === 'message' && artifact === undefined)
    return { ok: false, error: 'the signed manifest could not be read' };
  try {
    const { verify } = lib();
    const signer = root.verifier.verify(verify.toSignedEntity(read.bundle, artifact));
    const issuer = signer.identity?.extensions?.issuer;
    const subject = signer.identity?.subjectAlternativeName;
    if (issuer === undefined || subject === undefined)
      return { ok: false, error: 'the certificate names no OIDC issuer or no subject' };
    return { ok: true, issuer, subject };
  } catch (e) {
    const err = e as Error & { code?: string; cause?: unknown };
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return { ok: false, error: `${err.code ? `${err.code}: ` : ''}${err.message}${cause}` };
  }
}
