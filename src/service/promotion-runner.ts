/**
 * Carries out queued promotions, durably, on the leased queue (./leased-queue.ts): a QUEUED target is claimed with a
 * lease and a fencing token, copied with the copy engine from the source environment's location to the target's by
 * digest, and only then tagged — after checking that the claim still holds (a worker paused past its lease must not
 * write) and that no newer promotion of the environment already wrote that tag (the environment never moves back to
 * an older image). PROMOTED is recorded with a conditional update on (target, PROMOTING, token), with the audit entry
 * and the notices in the same transaction, so a promotion is recorded once however many workers touched it. A target
 * whose lease ran out (its server died or stalled) is claimed again; the copy is idempotent by digest. A transient
 * failure (a registry down) sends the target back to QUEUED, with the error and the time of the next attempt, for up
 * to `retryForMs` from its first failure; then, or at once for a permanent failure, it is FAILED (and a person may
 * re-queue it: Promotions.retry).
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { copyImage } from '../copy/copy-image.ts';
import { DigestMismatch } from '../errors.ts';
import { openRepository } from '../oci/registry.ts';
import { isTransient } from '../oci/transient.ts';
import { appendAudit } from '../store/audit.repository.ts';
import { LeaseLost, renewLease, requeueJob } from '../store/jobs.repository.ts';
import type { LiveEvents } from './live-events.service.ts';
import type { Notifier } from '../store/notifier.ts';
import {
  jobQuarantine,
  jobRegistry,
  loadPromotionJob,
  fenceTagWrite,
  PROMOTION_JOBS,
  recordEnded,
  recordPromoted,
  type PromotionJobRow,
} from '../store/promotion-jobs.repository.ts';
import type { Schema } from '../store/schema.ts';
import type { Registries } from './registries.service.ts';
import { Outbox, type PromotionNotice } from './outbox.ts';
import { LeasedQueue, type Job } from './leased-queue.ts';
import { enqueueGitopsWrite } from '../store/gitops.repository.ts';
import { newId } from './tokens.ts';
import type { OwnPushes } from './own-pushes.ts';
import { describeWindow, isOpen, nextOpening } from '../automation/window.ts';
import { windowsOf } from './environments.service.ts';
import type { PromotionAttestor } from './promotion-attestor.ts';
import { ReleaseRun, type ReleaseHooks } from './release-run.ts';

export interface RunnerOptions {
  /** How long a claimed promotion stays with a worker that stopped renewing it (default 15 s, renewed every 5 s). */
  leaseMs?: number;
  /**
   * How long a target that fails for a transient reason (a registry down, a 5xx, a refused connection) is retried,
   * from its first failure, before it is FAILED for good (default 10 minutes). A permanent failure (a digest
   * mismatch, a 4xx such as refused credentials, a tag that may not move) fails it at once.
   */
  retryForMs?: number;
  /** First retry after about this long, doubling up to `maxBackoffMs` (default 1 s). */
  backoffMs?: number;
  /** The longest wait between two attempts (default a minute). */
  maxBackoffMs?: number;
  /** Promotions carried out at once (each a copy; the database only hands out claims). */
  concurrency?: number;
  logger?: Logger;
  notifier?: Notifier;
  /** The event stream: copy progress (state changes reach it from the database, see migration 0018). */
  live?: Pick<LiveEvents, 'meter'>;
  /** Told what the runner is about to write, so that the push events reporting it back are recognised. */
  ownPushes?: Pick<OwnPushes, 'remember'>;
  /** Queues the signed promotion attestations with PROMOTED (none: promotions are not attested). */
  attestor?: Pick<PromotionAttestor, 'enqueue' | 'notify'>;
  /** Test hooks of release targets (./release-run.ts). */
  releaseHooks?: ReleaseHooks;
}

export const DEFAULT_PROMOTION_LEASE_MS = 15_000;
/** `HOIST_PROMOTION_RETRY_FOR`: a target failing transiently is retried this long before it is FAILED. */
export const DEFAULT_PROMOTION_RETRY_FOR_MS = 10 * 60_000;

/** The tag a promotion writes at the target: the source tag, or the stage's tag convention applied to it. */
export function targetTag(
  kind: 'repository' | 'tag',
  template: string | null,
  app: string,
  sourceTag: string | null,
): string | null {
  if (kind === 'repository') return sourceTag;
  if (template === null) return null;
  if (template.includes('{tag}') && sourceTag === null) return null;
  return template.replaceAll('{tag}', sourceTag ?? '').replaceAll('{app}', app);
}

/** A failure that another attempt would repeat. */
class Permanent extends Error {}

export class PromotionRunner {
  readonly queue: LeasedQueue;
  private readonly leaseMs: number;
  private readonly live: RunnerOptions['live'];
  private readonly ownPushes: RunnerOptions['ownPushes'];
  private readonly attestor: RunnerOptions['attestor'];
  /** A release's targets: every image copied, then every tag written (./release-run.ts). */
  private readonly release: ReleaseRun;
  /**
   * Told when an artifact arrived in an environment, so the automation can move it on; `soaks`: whether that
   * environment has a soak time (false: the soak tick need not look again; undefined: not known).
   */
  onPromoted: (artifactId: string, soaks?: boolean) => void = () => {};

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
    o: RunnerOptions = {},
    private readonly outbox: Outbox = new Outbox(false),
  ) {
    this.leaseMs = o.leaseMs ?? DEFAULT_PROMOTION_LEASE_MS;
    this.live = o.live;
    this.ownPushes = o.ownPushes;
    this.attestor = o.attestor;
    const logger = (o.logger ?? pino({ level: 'silent' })).child({ queue: 'promotions' });
    this.release = new ReleaseRun(db, registries, outbox, {
      fence: (job) => this.fence(job),
      logger,
      hooks: o.releaseHooks ?? {},
      tagOf: (t, app, sourceTag) => targetTag(t.dstKind, t.dstTag, app, sourceTag),
      remember: (p, environmentId) => this.ownPushes?.remember(p, environmentId),
      ...(o.attestor ? { attestor: o.attestor } : {}),
    });
    this.queue = new LeasedQueue(
      db,
      PROMOTION_JOBS,
      { run: (job) => this.carryOut(job), giveUp: (job, error) => this.fail(job, error) },
      {
        name: 'promotions',
        leaseMs: this.leaseMs,
        // Bounded by time, not attempts (retryForMs); the count is what a queue without a time would use.
        maxAttempts: 5,
        retryForMs: o.retryForMs ?? DEFAULT_PROMOTION_RETRY_FOR_MS,
        concurrency: o.concurrency ?? 8,
        backoff: { baseDelayMs: o.backoffMs ?? 1000, maxDelayMs: o.maxBackoffMs ?? 60_000 },
        logger,
        transient: (e) => !(e instanceof Permanent) && !(e instanceof DigestMismatch) && isTransient(e),
        ...(o.notifier ? { notifier: o.notifier } : {}),
      },
    );
  }

  /** Claims the next due target (its id), or undefined when there is none. */
  async claim(now = new Date()): Promise<string | undefined> {
    return (await this.queue.claim(now))?.id;
  }

  /** Claims and carries out one target; answers whether there was one. */
  runOne(): Promise<boolean> {
    return this.queue.runOne();
  }

  private async carryOut(job: Job): Promise<void> {
    const t = await loadPromotionJob(this.db, job.id);
    const started = new Date();
    if (await this.heldBack(job, t, started)) return;
    if (t.releaseId !== null) {
      for (const id of await this.release.carryOut(job, t, started)) this.onPromoted(id);
      return;
    }
    const sourceHost = this.registries.openRow(jobRegistry(t, 'src'));
    const targetHost = this.registries.openRow(jobRegistry(t, 'dst'));
    const repository = t.dstRepo.replaceAll('{app}', t.app);
    const target = openRepository(targetHost, repository, { push: true });
    const tag = t.chosenTag ?? targetTag(t.dstKind, t.dstTag, t.app, t.sourceTag);
    const written = { registryId: t.dstRegistryId, repository, digest: t.digest };
    this.ownPushes?.remember(written, t.dstId);
    // The tag too, now: whether the environment is the sole holder is learnt while the bytes are copied, and the tag's
    // event, which follows its PUT at once, is then recognised at the hook. Said again when the tag is written.
    if (tag !== null) this.ownPushes?.remember({ ...written, tag }, t.dstId);
    const existing = tag === null ? undefined : await target.headManifest(tag, job.signal);
    if (tag !== null && existing && existing.digest !== t.digest && (t.immutable || !t.allowMove)) {
      throw new Permanent(
        `tag ${tag} in ${t.dstName} already names ${existing.digest}, and ${t.dstName} ${t.immutable ? 'has immutable tags' : 'does not allow moving a tag to another digest'}`,
      );
    }
    // The bytes first, by digest: harmless whoever finishes. The tag, which users see, only after the checks below,
    // made right before it is written: the image's manifest goes by its tag then (one PUT, and one push event for the
    // registry to send, instead of a PUT by digest, a GET of it and a PUT by tag).
    const progress = this.live?.meter({
      projectId: t.projectId,
      project: t.project,
      application: t.app,
      requestId: t.requestId,
      targetId: t.id,
      environment: t.dstName,
    });
    // The project's webhooks, read with the fence when the tag is written (else by the outbox, in the transaction).
    let hooks: ReadonlyArray<{ id: string; events: unknown }> | undefined;
    const fenceTag = async (tag: string): Promise<void> => {
      job.signal.throwIfAborted();
      const fenced = await fenceTagWrite(this.db, job, {
        leaseUntil: new Date(Date.now() + this.leaseMs),
        projectId: t.projectId,
        applicationId: t.applicationId,
        environmentId: t.dstId,
        tag,
        requestedAt: t.requestedAt,
      });
      if (!fenced.held) throw new LeaseLost('promotion_targets', job.id);
      hooks = fenced.webhooks;
      const newer = fenced.newer;
      if (newer)
        throw new Permanent(
          `superseded: ${t.dstName}'s tag ${tag} already names ${newer.digest}, written by a newer promotion (${newer.requestId}); the older image's blobs were copied but the tag was not moved back`,
        );
      this.ownPushes?.remember({ ...written, tag }, t.dstId);
    };
    const result = await copyImage({
      source: {
        registry: sourceHost.transport.host,
        repository: t.srcRepo.replaceAll('{app}', t.app),
        digest: t.digest,
      },
      sourceHost,
      target: { registry: targetHost.transport.host, repository, digest: t.digest, ...(tag !== null ? { tag } : {}) },
      targetHost,
      signal: job.signal,
      ...(tag !== null ? { tagHead: existing ?? null, beforeTags: () => fenceTag(tag) } : {}),
      ...(progress ? { onEvent: progress.listener } : {}),
    });
    progress?.done();
    const at = new Date();
    // The notices and the write-back job first: the state change and the audit entry take the lock that every
    // promotion's transaction waits for (the audit chain's, migration 0018), held until commit, so they come last.
    // Deliveries queued: only then are the dispatchers of every replica woken (a NOTIFY each, and a claim per replica).
    let queued = 0;
    await this.db.transaction().execute(async (trx) => {
      queued = await this.outbox.add(trx, { ...jobNotice(t), event: 'promotion.promoted', tag }, at, hooks);
      await enqueueGitopsWrite(trx, { id: newId(), targetId: t.id, environmentId: t.dstId, at });
      // The signed record is attached right after, by its own job (./promotion-attestor.ts), off the critical path.
      const image = { applicationId: t.applicationId, artifactId: t.artifactId, digest: t.digest, repository, tag };
      await this.attestor?.enqueue(trx, t.id, [image], at);
      await recordPromoted(trx, job, {
        artifactId: t.artifactId,
        environmentId: t.dstId,
        tag,
        result: { ...result, tags: tag === null ? [] : [tag], tag },
        at,
      });
      await appendAudit(trx, {
        actor: 'hoist',
        action: 'promotion.promoted',
        objectType: 'promotion',
        objectId: t.requestId,
        summary: {
          environment: t.dstName,
          digest: t.digest,
          tag,
          bytesStreamed: result.bytesStreamed,
          blobsMounted: result.blobsMounted,
          seconds: (at.getTime() - started.getTime()) / 1000,
          startedAt: started.toISOString(),
        },
      });
    });
    if (queued > 0) this.outbox.wake();
    this.attestor?.notify();
    this.onPromoted(t.artifactId, t.dstSoakSeconds > 0);
  }

  /** The claim must still hold, for a whole lease from now, before anything users see is written. */
  private async fence(job: Job): Promise<void> {
    job.signal.throwIfAborted();
    if (!(await renewLease(this.db, PROMOTION_JOBS, job, new Date(Date.now() + this.leaseMs))))
      throw new LeaseLost('promotion_targets', job.id);
  }

  /** A target that failed for good: FAILED with the registry's error, audited and announced. */
  private async fail(job: Job, error: Error): Promise<void> {
    const t = await loadPromotionJob(this.db, job.id);
    const message = error.message;
    await this.db.transaction().execute(async (trx) => {
      await recordEnded(trx, job, 'FAILED', message, new Date());
      await appendAudit(trx, {
        actor: 'hoist',
        action: 'promotion.failed',
        objectType: 'promotion',
        objectId: t.requestId,
        summary: { environment: t.dstName, digest: t.digest, error: message, attempts: job.attempts },
      });
      await this.outbox.add(trx, { ...jobNotice(t), event: 'promotion.failed', reason: message });
    });
    this.outbox.wake();
  }

  /**
   * A claimed target that may not run now goes back: outside its environment's promotion windows it waits in QUEUED
   * until the next opens (with the reason, and its attempt given back); a digest quarantined since it was queued is
   * rejected.
   */
  private async heldBack(job: Job, t: PromotionJobRow, now: Date): Promise<boolean> {
    const q = jobQuarantine(t);
    if (q) {
      await refuseJob(this.db, this.outbox, job, t, `quarantined by ${q.by_user}: ${q.reason}`, now);
      return true;
    }
    // Projects are hard boundaries, checked again where the bytes move: never read or write outside the project's
    // namespaces, whatever the environment says (it may predate the grants, or a grant may have changed).
    const outside = [
      ...(t.srcGranted ? [] : [`${t.srcName} (${t.srcRegistry}/${t.srcRepo.replaceAll('{app}', t.app)})`]),
      ...(t.dstGranted ? [] : [`${t.dstName} (${t.dstRegistry}/${t.dstRepo.replaceAll('{app}', t.app)})`]),
    ];
    if (outside.length > 0) {
      const reason = `outside project ${t.project}'s namespaces: ${outside.join(', ')}; an admin grants the namespace (hoist project grant-namespace) or fixes the environment, then the promotion is requested again`;
      await refuseJob(this.db, this.outbox, job, t, reason, now);
      return true;
    }
    const windows = t.windowOverride ? [] : windowsOf(t.windows);
    if (isOpen(windows, now)) return false;
    const next = nextOpening(windows, now) ?? new Date(now.getTime() + 3600_000);
    const reason = `waiting for a promotion window of ${t.dstName} (${windows.map(describeWindow).join('; ')}); next opens at ${next.toISOString()}`;
    await requeueJob(this.db, PROMOTION_JOBS, job, { runAfter: next, message: reason, countAttempt: false });
    return true;
  }

  /** Works through due targets until stop(); new work wakes the workers at once (notify), on every replica. */
  start(): Promise<void> {
    return this.queue.start();
  }

  notify(): void {
    this.queue.notify();
  }

  /** Stops claiming; copies still running after `graceMs` are aborted and their leases released. */
  stop(graceMs = 0): Promise<void> {
    return this.queue.stop(graceMs);
  }
}

/**
 * A claimed target refused at run time (its digest quarantined since it was queued, a repository outside the
 * project's namespaces): REJECTED with the reason (fenced by the claim), audited as `promotion.refused` and announced
 * as `promotion.rejected`, in one transaction. The runner's and a release's (src/service/release-run.ts).
 */
export async function refuseJob(
  db: Kysely<Schema>,
  outbox: Outbox,
  job: Job,
  t: PromotionJobRow,
  reason: string,
  now: Date,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await recordEnded(trx, job, 'REJECTED', reason, now);
    await appendAudit(trx, {
      actor: 'hoist',
      action: 'promotion.refused',
      objectType: 'promotion',
      objectId: t.requestId,
      at: now,
      summary: { environment: t.dstName, digest: t.digest, reason },
    });
    await outbox.add(trx, { ...jobNotice(t), event: 'promotion.rejected', reason }, now);
  });
  outbox.wake();
}

/** What a notice about a claimed target says (the runner's and a release's, src/service/release-run.ts). */
export function jobNotice(t: PromotionJobRow): Omit<PromotionNotice, 'event'> {
  return {
    projectId: t.projectId,
    project: t.project,
    application: t.app,
    requestId: t.requestId,
    digest: t.digest,
    from: t.srcName,
    environments: [t.dstName],
    actor: 'hoist',
    requestedBy: t.requestedBy,
    ...(t.comment ? { comment: t.comment } : {}),
  };
}
