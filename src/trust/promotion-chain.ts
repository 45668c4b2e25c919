/**
 * Checking hoist's promotion attestations (promotion-attestation.ts) purely: the DSSE envelopes read from an image's
 * referrers and the public keys the checker trusts in, a verdict per attestation and the chain into an environment
 * out. An attestation counts when every envelope of its referrer manifest verifies with a given key over PAE, its
 * Statement names the checked digest, and its predicate has the fields hoist writes. The chain into `env` starts at a
 * counted promotion into `env` and follows `previous` (the sha256 of the earlier hop's promotion Statement) back to a
 * hop with none; each hop must leave the environment the one before arrived in. The same code serves `hoist verify`
 * (keys from files, no server) and the deploy gate (keys from the database).
 */
import { fromBase64, IN_TOTO_TYPE, pae, parseDsseEnvelope, parseStatement } from './formats.ts';
import { verifySignature, type PublicKeyInfo } from './keys.ts';
import { HOIST_PROMOTION_V1, SLSA_VSA_V1, statementDigest, type PromotionPredicate } from './promotion-attestation.ts';

export interface NamedKey {
  name: string;
  key: PublicKeyInfo;
}

export interface VsaSummary {
  verifier: string;
  timeVerified: string;
  resourceUri: string;
  policy: { name: string; uri: string; digest: string; version: number | null };
  verificationResult: string;
  inputAttestations: number;
}

export interface HoistAttestation {
  /** The referrer manifest it was read from. */
  manifest: string;
  verified: boolean;
  /** Why it counts, or why not. */
  reason: string;
  /** The key that verified it. */
  signer: string | null;
  promotion: PromotionPredicate | null;
  vsa: VsaSummary | null;
  /** sha256:<hex> of the promotion Statement (what a later hop's `previous` names). */
  statement: string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === 'string';

function promotionOf(p: unknown): PromotionPredicate | string {
  if (!isObj(p)) return 'the promotion predicate is not an object';
  const from = p.from;
  const to = p.to;
  if (!isObj(from) || !str(from.environment) || !isObj(to) || !str(to.environment))
    return 'the promotion predicate has no from.environment / to.environment';
  for (const k of ['project', 'application', 'requestId', 'targetId', 'requestedBy'] as const)
    if (!str(p[k])) return `the promotion predicate has no ${k}`;
  if (!Array.isArray(p.approvals)) return 'the promotion predicate has no approvals list';
  if (p.previous !== null && !(str(p.previous) && /^sha256:[0-9a-f]{64}$/.test(p.previous)))
    return 'the promotion predicate has a malformed previous';
  if (p.release !== undefined) {
    const r = p.release;
    if (!isObj(r) || !str(r.name) || !Array.isArray(r.applications))
      return 'the promotion predicate has a malformed release (name, applications)';
    const own = r.applications.find((a) => isObj(a) && a.application === p.application);
    if (!isObj(own) || !isObj(to) || !str(to.reference) || !to.reference.endsWith(`@${String(own.digest)}`))
      return `the release ${r.name} does not list ${String(p.application)} with the digest promoted`;
  }
  return p as unknown as PromotionPredicate;
}

function vsaOf(p: unknown): VsaSummary | string {
  if (!isObj(p)) return 'the VSA predicate is not an object';
  const verifier = isObj(p.verifier) ? p.verifier.id : undefined;
  const policy = isObj(p.policy) ? p.policy : {};
  const digest = isObj(policy.digest) ? policy.digest.sha256 : undefined;
  if (!str(verifier) || !str(p.resourceUri) || !str(p.timeVerified) || !str(digest))
    return 'the VSA lacks verifier.id, timeVerified, resourceUri or policy.digest.sha256';
  if (p.verificationResult !== 'PASSED') return `the VSA's verificationResult is ${String(p.verificationResult)}`;
  const version = isObj(policy.annotations) ? policy.annotations.version : undefined;
  return {
    verifier,
    timeVerified: p.timeVerified,
    resourceUri: p.resourceUri,
    policy: {
      name: str(policy.name) ? policy.name : '',
      uri: str(policy.uri) ? policy.uri : '',
      digest,
      version: typeof version === 'number' ? version : null,
    },
    verificationResult: p.verificationResult,
    inputAttestations: Array.isArray(p.inputAttestations) ? p.inputAttestations.length : 0,
  };
}

type EnvelopeCheck =
  | { kind: 'other' }
  | { kind: 'bad'; reason: string; predicateType: string | null }
  | { kind: 'ok'; predicateType: string; signer: string; predicate: unknown; statement: string };

function checkEnvelope(bytes: Buffer, digest: string, keys: readonly NamedKey[]): EnvelopeCheck {
  const envelope = parseDsseEnvelope(bytes);
  if (!envelope.ok) return { kind: 'other' };
  if (envelope.value.payloadType !== IN_TOTO_TYPE) return { kind: 'other' };
  const statement = parseStatement(envelope.value.payload);
  if (!statement.ok) return { kind: 'other' };
  const type = statement.value.predicateType;
  if (type !== HOIST_PROMOTION_V1 && type !== SLSA_VSA_V1) return { kind: 'other' };
  const message = pae(envelope.value.payloadType, envelope.value.payload);
  const signer = keys.find((k) => envelope.value.signatures.some((s) => verifySignature(k.key, message, s.sig)));
  const keyIds = envelope.value.signatures.map((s) => s.keyid || '(no keyid)').join(', ');
  if (!signer)
    return {
      kind: 'bad',
      predicateType: type,
      reason:
        keys.length === 0
          ? 'no public key to check it with'
          : `the signature does not verify with ${keys.map((k) => k.name).join(', ')} (signed by key ${keyIds}; tampered, or another key)`,
    };
  if (!statement.value.subjects.includes(digest))
    return {
      kind: 'bad',
      predicateType: type,
      reason: `signed for ${statement.value.subjects.join(', ') || 'no digest'}, not for ${digest}`,
    };
  return {
    kind: 'ok',
    predicateType: type,
    signer: signer.name,
    predicate: statement.value.predicate,
    statement: statementDigest(envelope.value.payload),
  };
}

/** Judges the hoist attestations among `envelopes` (others, such as a CI's provenance, are left out). */
export function checkAttestations(
  envelopes: ReadonlyArray<{ manifest: string; envelope: string }>,
  digest: string,
  keys: readonly NamedKey[],
): HoistAttestation[] {
  const byManifest = new Map<string, EnvelopeCheck[]>();
  for (const e of envelopes) {
    const check = checkEnvelope(fromBase64(e.envelope) ?? Buffer.alloc(0), digest, keys);
    if (check.kind === 'other') continue;
    byManifest.set(e.manifest, [...(byManifest.get(e.manifest) ?? []), check]);
  }
  const out: HoistAttestation[] = [];
  for (const [manifest, checks] of byManifest) {
    const base = { manifest, signer: null, promotion: null, vsa: null, statement: null };
    const bad = checks.find((c) => c.kind === 'bad');
    if (bad?.kind === 'bad') {
      out.push({ ...base, verified: false, reason: `${bad.predicateType ?? 'attestation'}: ${bad.reason}` });
      continue;
    }
    const ok = checks.filter((c): c is Extract<EnvelopeCheck, { kind: 'ok' }> => c.kind === 'ok');
    const p = ok.find((c) => c.predicateType === HOIST_PROMOTION_V1);
    const v = ok.find((c) => c.predicateType === SLSA_VSA_V1);
    if (!p || !v) {
      out.push({ ...base, verified: false, reason: `the attestation lacks its ${p ? 'VSA' : 'promotion'} statement` });
      continue;
    }
    const promotion = promotionOf(p.predicate);
    const vsa = vsaOf(v.predicate);
    if (typeof promotion === 'string' || typeof vsa === 'string') {
      out.push({ ...base, verified: false, reason: typeof promotion === 'string' ? promotion : (vsa as string) });
      continue;
    }
    out.push({
      manifest,
      verified: true,
      reason: `verified with ${p.signer}`,
      signer: p.signer,
      promotion,
      vsa,
      statement: p.statement,
    });
  }
  return out;
}

export type ChainVerdict =
  { ok: true; chain: HoistAttestation[] } | { ok: false; reason: string; chain: HoistAttestation[] };

/** The hops that brought the digest into `env`, oldest first, each leaving where the one before arrived. */
export function chainInto(attestations: readonly HoistAttestation[], env: string): ChainVerdict {
  const good = attestations.filter((a) => a.verified && a.promotion);
  const byStatement = new Map(good.map((a) => [a.statement ?? '', a]));
  const into = good
    .filter((a) => a.promotion?.to.environment === env)
    .sort((a, b) => (b.vsa?.timeVerified ?? '').localeCompare(a.vsa?.timeVerified ?? ''));
  let failure: ChainVerdict | undefined;
  for (const last of into) {
    const chain = [last];
    let reason: string | undefined;
    for (let hop = last; hop.promotion?.previous;) {
      const prev = byStatement.get(hop.promotion.previous);
      if (!prev) {
        reason = `broken chain: the attestation of the hop into ${hop.promotion.from.environment} (statement ${hop.promotion.previous}) is not attached or does not verify`;
        break;
      }
      if (prev.promotion?.to.environment !== hop.promotion.from.environment || chain.includes(prev)) {
        reason = `broken chain: ${prev.promotion?.to.environment ?? '?'} is not where the hop to ${hop.promotion.to.environment} started (${hop.promotion.from.environment})`;
        break;
      }
      chain.unshift(prev);
      hop = prev;
    }
    if (reason === undefined) return { ok: true, chain };
    failure ??= { ok: false, reason, chain };
  }
  if (failure) return failure;
  const rejected = attestations.filter((a) => !a.verified);
  const why = rejected.length > 0 ? `; ${rejected.map((a) => `${a.manifest}: ${a.reason}`).join('; ')}` : '';
  const none = attestations.length === 0 ? 'no hoist attestation is attached to this digest' : undefined;
  return {
    ok: false,
    reason: none ?? `no valid hoist attestation promotes this digest into ${env}${why}`,
    chain: [],
  };
}
