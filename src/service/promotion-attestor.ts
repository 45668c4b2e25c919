/**
 * Attaches hoist's signed record to every image a promotion target promoted, off the promotion's critical path: the
 * runner (and a release's run, ./release-run.ts) queues one job per image in the transaction that records the target
 * PROMOTED (`enqueue`), and this worker attaches each on the leased queue (lease, fencing token, retried with backoff
 * for a transient failure, FAILED with the reason otherwise). For each job the facts are read from the store, the
 * statements built and signed (src/trust/promotion-attestation.ts), and the result kept on the job under its fencing
 * token before anything is pushed. A retry, or a worker that took a stalled job over, finds the kept bytes and pushes
 * exactly those again, so the image never carries two attestations of one promotion; a worker that lost its claim
 * keeps nothing. What a push costs: src/oci/push-referrer.ts.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { pushReferrer, ReferrerPushState } from '../oci/push-referrer.ts';
import type { RepositoryClient } from '../oci/registry-client.ts';
import { openRepository } from '../oci/registry.ts';
import { isTransient } from '../oci/transient.ts';
import { LeaseLost, requeueJob, type Claim } from '../store/jobs.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import {
  ATTESTATION_JOBS,
  attestationFacts,
  attestationRegistry,
  enqueueAttestations,
  keepAttestation,
  loadAttestationJob,
  AttestationNotReady,
  recordAttached,
  recordAttachFailed,
  releaseImagesOf,
  storedOf,
  type AttestationImage,
  type AttestationJobRow,
} from '../store/promotion-attestations.repository.ts';
import type { Schema, StoredAttestation } from '../store/schema.ts';
import { DSSE_ENVELOPE_TYPE } from '../trust/formats.ts';
import { buildAttestation, EMPTY_CONFIG, type PromotionFacts } from '../trust/promotion-attestation.ts';
import type { TrustResult } from '../trust/verify.ts';
import { VERSION } from '../version.ts';
import { LeasedQueue, type Job } from './leased-queue.ts';
import type { OwnPushes } from './own-pushes.ts';
import { ownReferrerWrites } from '../events/referrer-writes.ts';
import { artifactInRepository } from '../store/push-echo.query.ts';
import type { PolicyRules } from './policies.service.ts';
import type { Registries } from './registries.service.ts';
import type { SigningKeys } from './signing-keys.ts';

export interface AttestorOptions {
  /** verifier.id in the VSA: this installation (HOIST_VERIFIER_ID, e.g. its URL); default `urn:hoist:<hostname>`. */
  verifierId?: string;
  /** A claimed job stays with a worker that stopped renewing it this long (default 15 s). */
  leaseMs?: number;
  /** A job failing transiently (a registry down) is retried this long from its first failure (default 30 minutes). */
  retryForMs?: number;
  /** First retry after about this long, doubling up to `maxBackoffMs` (default 1 s, at most a minute). */
  backoffMs?: number;
  maxBackoffMs?: number;
  concurrency?: number;
  logger?: Logger;
  notifier?: Notifier;
  /** Told of the attestation's own writes, so that their push events are recognised at the hook (src/events). */
  ownPushes?: Pick<OwnPushes, 'rememberReferrer'>;
  /**
   * Work that goes first (the promotions and push events of this process): while it is under way, no attestation is
   * begun, for a few seconds at most (LeasedQueueOptions.yieldTo).
   */
  yieldTo?: () => boolean;
}

export interface Attached {
  manifest: string;
  statement: string;
  keyId: string;
  /** How long attaching took (signing if needed, and the pushes). */
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

/** A failure another attempt would repeat (the subject is not at the target). */
class Permanent extends Error {}

export class PromotionAttestor {
  readonly verifierId: string;
  readonly queue: LeasedQueue;
  /** What pushing referrers learnt per repository (the empty config is there) and registry (referrers API or not). */
  private readonly pushState = new ReferrerPushState();
  private readonly logger: Logger;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly keys: SigningKeys,
    private readonly registries: Pick<Registries, 'openRow'>,
    private readonly o: AttestorOptions = {},
  ) {
    this.verifierId = o.verifierId ?? `urn:hoist:${hostname()}`;
    this.logger = (o.logger ?? pino({ level: 'silent' })).child({ queue: 'attestations' });
    this.queue = new LeasedQueue(
      db,
      ATTESTATION_JOBS,
      { run: (job) => this.carryOut(job), giveUp: (job, error) => recordAttachFailed(db, job, error.message) },
      {
        name: 'attestations',
        leaseMs: o.leaseMs ?? 15_000,
        maxAttempts: 10,
        retryForMs: o.retryForMs ?? 30 * 60_000,
        concurrency: o.concurrency ?? 4,
        backoff: { baseDelayMs: o.backoffMs ?? 1000, maxDelayMs: o.maxBackoffMs ?? 60_000 },
        logger: this.logger,
        transient: (e) => !(e instanceof Permanent) && isTransient(e),
        ...(o.notifier ? { notifier: o.notifier } : {}),
        ...(o.yieldTo ? { yieldTo: o.yieldTo } : {}),
      },
    );
  }

  /**
   * Queues the attestation of each image `targetId` promoted, in the transaction recording it PROMOTED (idempotent:
   * a target's image is queued once). Call `notify()` after the commit.
   */
  enqueue(trx: Transaction<Schema>, targetId: string, images: readonly AttestationImage[], at: Date): Promise<void> {
    return enqueueAttestations(trx, targetId, images, at);
  }

  /** Work was committed: wake this process's workers and every replica's. */
  notify(): void {
    this.queue.notify();
  }

  start(): Promise<void> {
    return this.queue.start();
  }

  stop(graceMs = 0): Promise<void> {
    return this.queue.stop(graceMs);
  }

  /** Claims and attaches one due attestation (tests); answers whether there was one. */
  runOne(): Promise<boolean> {
    return this.queue.runOne();
  }

  private async carryOut(job: Job): Promise<void> {
    const j = await loadAttestationJob(this.db, job.id);
    try {
      await this.attach(job, j);
    } catch (e) {
      if (!(e instanceof AttestationNotReady)) throw e;
      // Not a failure: the earlier hop's job signs first (its Statement's digest is this one's `previous`), or the
      // request's audit entry is chained first.
      await requeueJob(this.db, ATTESTATION_JOBS, job, {
        runAfter: new Date(Date.now() + 500),
        message: e.message,
        countAttempt: false,
      });
      return;
    }
    await recordAttached(this.db, job, new Date());
  }

  /** Attaches the job's attestation to its digest at the target (fenced; the same bytes on every attempt). */
  async attach(job: Job, j: AttestationJobRow): Promise<Attached> {
    const started = performance.now();
    const targetHost = this.registries.openRow(attestationRegistry(j, 'dst'));
    const repo = openRepository(targetHost, j.repository, { push: true });
    const stored = storedOf(j) ?? (await this.sign(job, j, repo));
    const content = stored.content;
    const manifest = Buffer.from(content.manifest, 'base64');
    const annotations = (JSON.parse(manifest.toString('utf8')) as { annotations?: Record<string, string> }).annotations;
    const own = this.o.ownPushes;
    const target = { registryId: j.dstRegistryId, repository: j.repository, subject: j.digest };
    await pushReferrer(
      own
        ? await ownReferrerWrites(repo, target, own, (t) =>
            artifactInRepository(this.db, t.registryId, t.repository, t.subject),
          )
        : repo,
      j.digest,
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
      { signal: job.signal, state: this.pushState },
    );
    const ms = Math.round((performance.now() - started) * 10) / 10;
    this.logger.debug({ job: job.id, manifest: stored.manifest_digest, ms }, 'attestation attached');
    return { manifest: stored.manifest_digest, statement: stored.statement_digest, keyId: stored.key_id, ms };
  }

  private async sign(job: Claim & { signal: AbortSignal }, j: AttestationJobRow, repo: RepositoryClient) {
    const [facts, subject, signer, sourceHost, release] = await Promise.all([
      attestationFacts(this.db, j),
      repo.headManifest(j.digest, job.signal),
      this.keys.signer(),
      this.registries.openRow(attestationRegistry(j, 'src')),
      j.release === null ? undefined : releaseImagesOf(this.db, j.targetId),
    ]);
    if (!subject) throw new Permanent(`${repo.name}@${j.digest} is not at the target after the promotion`);
    const now = new Date();
    const name = `${repo.host.transport.host}/${repo.name}`;
    const sourceRepository = j.srcRepo.replaceAll('{app}', j.app);
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
      : `${sourceHost.transport.host}/${sourceRepository}`;
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
      subject: { name, digest: j.digest },
      resourceUri: `${name}${j.tag ? `:${j.tag}` : ''}@${j.digest}`,
      timeVerified: now.toISOString(),
      policy,
      inputs,
      verifiedLevels: [trust?.provenance ? 'SLSA_BUILD_LEVEL_1' : 'SLSA_BUILD_LEVEL_0'],
      promotion: {
        project: j.project,
        application: j.app,
        from: {
          environment: j.srcName,
          reference: `${sourceHost.transport.host}/${sourceRepository}@${j.digest}`,
        },
        to: { environment: j.dstName, reference: `${name}@${j.digest}`, tag: j.tag },
        requestId: j.requestId,
        targetId: j.targetId,
        requestedBy: j.requestedBy,
        requestedAt: new Date(j.requestedAt).toISOString(),
        comment: j.comment ?? '',
        approvals: facts.approvals.map((a) => ({
          username: a.username,
          at: new Date(a.at).toISOString(),
          ...(a.comment ? { comment: a.comment } : {}),
        })),
        policy: policy ? { name: policy.name, version: policy.version, digest: policy.digest } : null,
        audit: facts.audit ? { seq: String(facts.audit.seq), hash: facts.audit.hash } : null,
        previous: facts.previous,
        promotedBy: { verifier: this.verifierId, keyId: signer.keyId },
        ...(j.release !== null && release
          ? {
              release: {
                name: j.release,
                applications: release.map((r) => ({ application: r.application, digest: r.digest, tag: r.tag })),
              },
            }
          : {}),
      },
    };
    const built = buildAttestation(
      promotionFacts,
      { mediaType: subject.mediaType, digest: j.digest, size: subject.size },
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
    if (!kept) throw new LeaseLost('attestation_jobs', job.id);
    return kept;
  }
}
