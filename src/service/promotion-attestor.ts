/**
 * Attaches hoist's signed record to a promoted image, as the last step of carrying out a promotion target (the
 * runner calls `attach` after the copy and the tag, before it records PROMOTED): the facts are read from the store,
 * the statements built and signed (src/trust/promotion-attestation.ts), and the result kept in the database under
 * the claim's fencing token before anything is pushed. A retry, a re-claim after a stalled worker, or a second
 * replica then finds the kept bytes and pushes exactly those again, so the image never carries two attestations of
 * one promotion; a worker that lost its claim keeps nothing. Cost per promotion: the envelopes (two small blobs,
 * pushed at once), the manifest, a HEAD of the promoted manifest and of the empty config, and on registries without
 * the referrers API the fallback index (read, write, read back).
 */
import type { Kysely } from 'kysely';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { pushReferrer } from '../oci/push-referrer.ts';
import type { RepositoryClient } from '../oci/registry-client.ts';
import { LeaseLost, type Claim } from '../store/jobs.repository.ts';
import { attestationFacts, keepAttestation, storedAttestation } from '../store/promotion-attestations.repository.ts';
import type { Schema, StoredAttestation } from '../store/schema.ts';
import { DSSE_ENVELOPE_TYPE } from '../trust/formats.ts';
import { buildAttestation, EMPTY_CONFIG, type PromotionFacts } from '../trust/promotion-attestation.ts';
import type { TrustResult } from '../trust/verify.ts';
import { VERSION } from '../version.ts';
import type { PolicyRules } from './policies.service.ts';
import type { SigningKeys } from './signing-keys.ts';

export interface AttestorOptions {
  /** verifier.id in the VSA: this installation (HOIST_VERIFIER_ID, e.g. its URL); default `urn:hoist:<hostname>`. */
  verifierId?: string;
}

/** What the runner knows about the target it is carrying out (a PromotionJobRow, and where it copied to). */
export interface AttestTarget {
  id: string;
  requestId: string;
  requestedAt: Date;
  requestedBy: string;
  comment: string | null;
  artifactId: string;
  applicationId: string;
  digest: string;
  app: string;
  project: string;
  srcName: string;
  dstName: string;
}

export interface AttestPlace {
  /** The client of the target repository (push scope). */
  repo: RepositoryClient;
  /** host[:port] of the target registry and of the source registry. */
  registry: string;
  sourceRegistry: string;
  sourceRepository: string;
  tag: string | null;
  signal?: AbortSignal;
}

export interface Attached {
  manifest: string;
  statement: string;
  keyId: string;
  /** How long attaching took (signing if needed, and the pushes): recorded with the promotion's audit entry. */
  ms: number;
}

function policyUri(verifierId: string, name: string, version: number): string {
  return /^https?:\/\//.test(verifierId)
    ? `${verifierId.replace(/\/+$/, '')}/api/v1/policies/${encodeURIComponent(name)}?version=${version}`
    : `${verifierId}#policy/${encodeURIComponent(name)}/${version}`;
}

/** The sha256 of a policy version's content: the JSON of exactly these fields, keys sorted, no spaces (README). */
export function policyDigest(p: PolicyRules & { name: string; version: number }): string {
  const fields: Record<string, unknown> = {
    allowApproverFromDeploy: p.allowApproverFromDeploy,
    allowImageBuilderFromApprove: p.allowImageBuilderFromApprove,
    allowRequestFromApprove: p.allowRequestFromApprove,
    allowSkipStages: p.allowSkipStages,
    approverCount: p.approverCount,
    description: p.description,
    failConditions: p.failConditions,
    name: p.name,
    passConditions: p.passConditions,
    version: p.version,
  };
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

/** host[:port] of a registry's URL as stored (with or without a scheme). */
const hostOf = (url: string): string => url.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');

export class PromotionAttestor {
  readonly verifierId: string;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly keys: SigningKeys,
    o: AttestorOptions = {},
  ) {
    this.verifierId = o.verifierId ?? `urn:hoist:${hostname()}`;
  }

  /** Attaches the attestation of `job`'s target to its digest at the target (fenced; idempotent across attempts). */
  async attach(job: Claim, t: AttestTarget, place: AttestPlace): Promise<Attached> {
    const started = performance.now();
    const stored = (await storedAttestation(this.db, job.id)) ?? (await this.sign(job, t, place));
    const content = stored.content;
    const manifest = Buffer.from(content.manifest, 'base64');
    const annotations = (JSON.parse(manifest.toString('utf8')) as { annotations?: Record<string, string> }).annotations;
    await pushReferrer(
      place.repo,
      t.digest,
      {
        manifest: {
          bytes: manifest,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: DSSE_ENVELOPE_TYPE,
          ...(annotations ? { annotations } : {}),
        },
        config: { ...EMPTY_CONFIG, bytes: Buffer.from('{}') },
        layers: content.layers.map((l) => ({ digest: l.digest, size: l.size, bytes: Buffer.from(l.bytes, 'base64') })),
      },
      place.signal,
    );
    return {
      manifest: stored.manifest_digest,
      statement: stored.statement_digest,
      keyId: stored.key_id,
      ms: Math.round((performance.now() - started) * 10) / 10,
    };
  }

  private async sign(job: Claim, t: AttestTarget, place: AttestPlace) {
    const [facts, subject, signer] = await Promise.all([
      attestationFacts(this.db, {
        targetId: t.id,
        requestId: t.requestId,
        artifactId: t.artifactId,
        applicationId: t.applicationId,
      }),
      place.repo.headManifest(t.digest, place.signal),
      this.keys.signer(),
    ]);
    if (!subject) throw new Error(`${place.repo.name}@${t.digest} is not at the target after the copy`);
    const now = new Date();
    const name = `${place.registry}/${place.repo.name}`;
    const policy = facts.policy
      ? {
          name: facts.policy.name,
          version: facts.policy.version,
          digest: policyDigest({
            name: facts.policy.name,
            version: facts.policy.version,
            description: facts.policy.description,
            passConditions: facts.policy.pass_conditions,
            failConditions: facts.policy.fail_conditions,
            approverCount: facts.policy.approver_count,
            allowRequestFromApprove: facts.policy.allow_requester_from_approve,
            allowImageBuilderFromApprove: facts.policy.allow_image_builder_from_approve,
            allowApproverFromDeploy: facts.policy.allow_approver_from_deploy,
            allowSkipStages: facts.policy.allow_skip_stages,
          }),
          uri: policyUri(this.verifierId, facts.policy.name, facts.policy.version),
        }
      : null;
    const trust: TrustResult | null = facts.artifact?.trust ?? null;
    const evidenceAt = facts.artifact
      ? `${hostOf(facts.artifact.url)}/${facts.artifact.repository}`
      : `${place.sourceRegistry}/${place.sourceRepository}`;
    const inputs = (trust?.checks ?? [])
      .filter((c) => c.verified)
      .map((c) => ({
        uri: `${evidenceAt}@${c.manifest}`,
        digest: c.manifest,
        type: c.type,
        predicateType: c.predicateType,
        signer: c.signer ?? '',
      }));
    const promotionFacts: PromotionFacts = {
      verifierId: this.verifierId,
      hoistVersion: VERSION,
      subject: { name, digest: t.digest },
      resourceUri: `${name}${place.tag ? `:${place.tag}` : ''}@${t.digest}`,
      timeVerified: now.toISOString(),
      policy,
      inputs,
      verifiedLevels: [trust?.provenance ? 'SLSA_BUILD_LEVEL_1' : 'SLSA_BUILD_LEVEL_0'],
      promotion: {
        project: t.project,
        application: t.app,
        from: {
          environment: t.srcName,
          reference: `${place.sourceRegistry}/${place.sourceRepository}@${t.digest}`,
        },
        to: { environment: t.dstName, reference: `${name}@${t.digest}`, tag: place.tag },
        requestId: t.requestId,
        targetId: t.id,
        requestedBy: t.requestedBy,
        requestedAt: t.requestedAt.toISOString(),
        comment: t.comment ?? '',
        approvals: facts.approvals.map((a) => ({
          username: a.username,
          at: a.at.toISOString(),
          ...(a.comment ? { comment: a.comment } : {}),
        })),
        policy: policy ? { name: policy.name, version: policy.version, digest: policy.digest } : null,
        audit: facts.audit ? { seq: String(facts.audit.seq), hash: facts.audit.hash } : null,
        previous: facts.previous,
        promotedBy: { verifier: this.verifierId, keyId: signer.keyId },
      },
    };
    const built = buildAttestation(
      promotionFacts,
      { mediaType: subject.mediaType, digest: t.digest, size: subject.size },
      signer,
    );
    const content: StoredAttestation = {
      manifest: built.manifest.bytes.toString('base64'),
      layers: built.layers.map((l) => ({
        mediaType: l.mediaType,
        digest: l.digest,
        size: l.size,
        ...(l.annotations ? { annotations: l.annotations } : {}),
        bytes: l.bytes.toString('base64'),
      })),
    };
    const kept = await keepAttestation(this.db, job, {
      keyId: signer.keyId,
      manifestDigest: built.manifest.digest,
      statementDigest: built.promotionStatementDigest,
      content,
      at: now,
    });
    if (!kept) throw new LeaseLost('promotion_targets', job.id);
    return kept;
  }
}
