/**
 * The record hoist leaves on every image it promotes, built purely from facts the service gathered: two in-toto
 * Statements v1 about the promoted digest, each in its own DSSE envelope (payloadType application/vnd.in-toto+json,
 * signature over PAE as formats.ts computes it), both layers of one OCI referrer manifest (artifactType
 * application/vnd.dsse.envelope.v1+json, subject the promoted manifest):
 *
 * - a SLSA Verification Summary (https://slsa.dev/verification_summary/v1): this installation (verifier.id) checked
 *   the image at `resourceUri` against `policy` (name, version, sha256 of the policy version's exact content) and it
 *   PASSED, relying on `inputAttestations` (the verified signatures and attestations, by referrer manifest digest);
 * - hoist's own promotion predicate (https://hoist.dev/promotion/v1): from and to environments, requester,
 *   approvers with their times, request and target ids, the hash of the audit entry that decided it, and `previous`,
 *   the sha256 of the promotion Statement of the hop that brought the image into the source environment, so the
 *   hops of one image form a hash-linked chain (dev → staging → prod) that `hoist verify` follows.
 *
 * Nothing here reads a clock or a key: the signer is passed in, so the same facts give the same statements.
 */
import { createHash } from 'node:crypto';
import { OCI_EMPTY, OCI_MANIFEST } from '../oci/media-types.ts';
import { DSSE_ENVELOPE_TYPE, IN_TOTO_TYPE, pae } from './formats.ts';

export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_VSA_V1 = 'https://slsa.dev/verification_summary/v1';
export const HOIST_PROMOTION_V1 = 'https://hoist.dev/promotion/v1';
/** The layer annotation naming a layer's predicate type: cosign's key, and the in-toto/ORAS one. */
export const PREDICATE_TYPE_ANNOTATIONS = ['predicateType', 'in-toto.io/predicate-type'] as const;
/** On the referrer manifest: the promotion target it records (a retry finds its own attestation by it). */
export const TARGET_ANNOTATION = 'dev.hoist.promotion.target';

/** The OCI empty JSON config `{}`. */
export const EMPTY_CONFIG = {
  mediaType: OCI_EMPTY,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
} as const;

export interface PolicyFacts {
  name: string;
  version: number;
  /** sha256 hex of the policy version's canonical content (policyDigest). */
  digest: string;
  uri: string;
}

export interface InputAttestation {
  /** registry/repository@sha256:… of the referrer manifest that held it. */
  uri: string;
  digest: string;
  type: 'signature' | 'attestation';
  predicateType: string | null;
  signer: string;
}

export interface Approval {
  username: string;
  at: string;
  comment?: string;
}

export interface PromotionFacts {
  verifierId: string;
  hoistVersion: string;
  /** registry/repository at the target, and the promoted digest. */
  subject: { name: string; digest: string };
  resourceUri: string;
  timeVerified: string;
  /** null: no policy applies to the environment (then every image passes; protected environments need approval). */
  policy: PolicyFacts | null;
  inputs: InputAttestation[];
  /** SLSA_BUILD_LEVEL_1 when a verified SLSA provenance was among the inputs, else SLSA_BUILD_LEVEL_0. */
  verifiedLevels: string[];
  promotion: PromotionPredicate;
}

/** https://hoist.dev/promotion/v1: the README's "Verifying what hoist promoted" documents each field. */
export interface PromotionPredicate {
  project: string;
  application: string;
  from: { environment: string; reference: string };
  to: { environment: string; reference: string; tag: string | null };
  requestId: string;
  targetId: string;
  requestedBy: string;
  requestedAt: string;
  comment: string;
  approvals: Approval[];
  policy: { name: string; version: number; digest: string } | null;
  audit: { seq: string; hash: string } | null;
  /** sha256:<hex> of the promotion Statement of the hop into `from`; null when the image entered `from` otherwise. */
  previous: string | null;
  promotedBy: { verifier: string; keyId: string };
  /**
   * Present when the image was promoted as part of a release: its name and every application's image in the target
   * (each image of the release carries its own attestation naming the whole set).
   */
  release?: { name: string; applications: Array<{ application: string; digest: string; tag: string | null }> };
}

const sha256Hex = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

function statement(subject: PromotionFacts['subject'], predicateType: string, predicate: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: IN_TOTO_STATEMENT_V1,
      subject: [{ name: subject.name, digest: { sha256: hexOf(subject.digest) } }],
      predicateType,
      predicate,
    }),
  );
}

/** The VSA Statement's bytes. */
export function vsaStatement(f: PromotionFacts): Buffer {
  const policy = f.policy ?? {
    name: 'none',
    version: 0,
    uri: `${f.verifierId}#no-policy`,
    digest: sha256Hex('{}'),
  };
  return statement(f.subject, SLSA_VSA_V1, {
    verifier: { id: f.verifierId, version: { hoist: f.hoistVersion } },
    timeVerified: f.timeVerified,
    resourceUri: f.resourceUri,
    policy: {
      uri: policy.uri,
      name: policy.name,
      digest: { sha256: policy.digest },
      annotations: { version: policy.version },
    },
    inputAttestations: f.inputs.map((i) => ({
      uri: i.uri,
      digest: { sha256: hexOf(i.digest) },
      annotations: { type: i.type, predicateType: i.predicateType, signer: i.signer },
    })),
    verificationResult: 'PASSED',
    verifiedLevels: f.verifiedLevels,
    slsaVersion: '1.0',
  });
}

export function promotionStatement(f: PromotionFacts): Buffer {
  return statement(f.subject, HOIST_PROMOTION_V1, f.promotion);
}

/** sha256:<hex> of a Statement's bytes (what `previous` names). */
export const statementDigest = (bytes: Buffer): string => `sha256:${sha256Hex(bytes)}`;

export interface EnvelopeSigner {
  keyId: string;
  /** ECDSA P-256 over SHA-256, ASN.1 DER. */
  sign(message: Buffer): Buffer;
}

/** A DSSE envelope around an in-toto Statement, signed over PAE(payloadType, payload). */
export function signEnvelope(payload: Buffer, signer: EnvelopeSigner): Buffer {
  const sig = signer.sign(pae(IN_TOTO_TYPE, payload));
  return Buffer.from(
    JSON.stringify({
      payloadType: IN_TOTO_TYPE,
      payload: payload.toString('base64'),
      signatures: [{ keyid: signer.keyId, sig: sig.toString('base64') }],
    }),
  );
}

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
  annotations?: Record<string, string>;
}

export interface AttestationArtifact {
  manifest: { digest: string; bytes: Buffer; mediaType: string };
  /** The layers (the two envelopes); the empty config is EMPTY_CONFIG. */
  layers: Blob[];
  promotionStatementDigest: string;
}

function blob(bytes: Buffer, mediaType: string, annotations?: Record<string, string>): Blob {
  return {
    mediaType,
    digest: `sha256:${sha256Hex(bytes)}`,
    size: bytes.length,
    bytes,
    ...(annotations ? { annotations } : {}),
  };
}

const predicateAnnotations = (type: string): Record<string, string> =>
  Object.fromEntries(PREDICATE_TYPE_ANNOTATIONS.map((k) => [k, type]));

/** Both statements signed and packed as one referrer manifest of `subject`. */
export function buildAttestation(
  f: PromotionFacts,
  subject: { mediaType: string; digest: string; size: number },
  signer: EnvelopeSigner,
): AttestationArtifact {
  const promotion = promotionStatement(f);
  const layers = [
    blob(signEnvelope(vsaStatement(f), signer), DSSE_ENVELOPE_TYPE, predicateAnnotations(SLSA_VSA_V1)),
    blob(signEnvelope(promotion, signer), DSSE_ENVELOPE_TYPE, predicateAnnotations(HOIST_PROMOTION_V1)),
  ];
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: DSSE_ENVELOPE_TYPE,
      config: EMPTY_CONFIG,
      layers: layers.map((l) => ({
        mediaType: l.mediaType,
        digest: l.digest,
        size: l.size,
        annotations: l.annotations,
      })),
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: {
        [TARGET_ANNOTATION]: f.promotion.targetId,
        'org.opencontainers.image.created': f.timeVerified,
      },
    }),
  );
  return {
    manifest: { digest: `sha256:${sha256Hex(manifest)}`, bytes: manifest, mediaType: OCI_MANIFEST },
    layers,
    promotionStatementDigest: statementDigest(promotion),
  };
}
