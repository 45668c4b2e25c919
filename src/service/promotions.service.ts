/**
 * Promotion requests: move an artifact's digest from an environment it is in to one or more environments the
 * pipeline allows. Each operation has the same shape: load the context from the store in the transaction that will
 * write (decisions lock the request first, so two decisions on one request are made one after the other), plan
 * purely (src/promotion), and let the executor write the plan, its audit entry and its notices in that transaction.
 * The service only orchestrates: no SQL here.
 */
import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { Conflict, NotFound } from '../errors.ts';
import type { Caller } from '../promotion/approvers.ts';
import type { PromotionContext } from '../promotion/context.ts';
import { planCancel, planDecision, type DecisionPlan } from '../promotion/plan-decision.ts';
import { planPromotion, type Automated, type PromotionInput, type PromotionPlan } from '../promotion/plan.ts';
import {
  planReevaluation,
  planReleaseReevaluation,
  type PolicyChange,
  type Reevaluation,
} from '../promotion/plan-reevaluation.ts';
import { planRetry } from '../promotion/plan-retry.ts';
import { loadRetry, retryableEnvironments } from '../store/retry-targets.repository.ts';
import { countWaitingFor } from '../store/pending-approvals.query.ts';
import { loadPromotionContext, type ApplicationKey } from '../store/promotion-context.query.ts';
import {
  auditOfRequest,
  findHistory,
  findRequests,
  latestPromotion,
  type HistoryFilter,
} from '../store/promotion-views.query.ts';
import {
  claimIdempotencyKey,
  findIdempotencyKey,
  loadDecisionContext,
  lockRequest,
} from '../store/promotions.repository.ts';
import type { Schema, TargetState } from '../store/schema.ts';
import { lockWaitingReleaseTargets, lockWaitingTargets, type WaitingFilter } from '../store/waiting-targets.query.ts';
import type { Actor } from './audited.ts';
import { Outbox } from './outbox.ts';
import { PromotionExecutor } from './promotion-executor.ts';
import {
  bytesCopiedOf,
  json,
  plannedView,
  requestViews,
  withTimelines,
  type HistoryEntry,
  type PromotionView,
} from './promotion-views.ts';
import type { Page } from './page.ts';
import { newId } from './tokens.ts';
import { targetTag } from './promotion-runner.ts';
import { systemClock, type Clock } from './clock.ts';
import { planOnRelease, refuseReleaseRetry, withReleases } from './releases.service.ts';

export { AlreadyFired } from './promotion-executor.ts';
export { artifactVariables, SIGNATURE_TYPES } from '../promotion/variables.ts';
export { dutyConflict, mayDecide } from '../promotion/approvers.ts';
export type { Automated, PromotionInput } from '../promotion/plan.ts';
export type { HistoryEntry, PromotionView, TargetView } from './promotion-views.ts';

type RequestActor = Actor & { isAdmin?: boolean };

/**
 * Registers an image on first use: one that is in the source environment's repository but unknown to hoist is read
 * from the registry and registered by the requester (src/service/artifacts.service.ts `resolve`).
 */
export interface FirstUse {
  resolve(
    actor: Actor,
    project: string,
    app: string,
    env: string,
    image: { tag?: string; digest?: string },
  ): Promise<unknown>;
}

/** A re-sent request: the same caller, key and request body answer the first request. */
export interface IdempotencyKey {
  key: string;
}

const fingerprintOf = (project: string, app: string, input: PromotionInput): string =>
  createHash('sha256')
    .update(JSON.stringify([project, app, input]))
    .digest('hex');

/** Thrown to roll a request's transaction back when its image must be read from the registry first. */
class RegisterFirst extends Error {}

export class Promotions {
  private readonly executor: PromotionExecutor;

  constructor(
    private readonly db: Kysely<Schema>,
    /** Told when a target is queued, so the runner starts at once instead of at its next poll. */
    private readonly onQueued: () => void = () => {},
    private readonly outbox: Outbox = new Outbox(false),
    private readonly firstUse?: FirstUse,
    private readonly clock: Clock = systemClock,
  ) {
    this.executor = new PromotionExecutor(outbox);
  }

  private async context(db: Kysely<Schema>, app: ApplicationKey, input: PromotionInput): Promise<PromotionContext> {
    const artifact =
      input.digest !== undefined
        ? { digest: input.digest }
        : input.tag !== undefined
          ? { tag: input.tag, in: input.from }
          : null;
    const context = await loadPromotionContext(db, app, artifact);
    if (!context)
      throw new NotFound(
        'application',
        'applicationId' in app ? app.applicationId : `${app.project}/${app.application}`,
      );
    return context;
  }

  /** The plan for a request, without making it (`POST …/promotions/preview`). */
  async preview(actor: RequestActor, project: string, app: string, input: PromotionInput): Promise<PromotionPlan> {
    const context = await this.context(this.db, { project, application: app }, input);
    return planPromotion(context, input, { username: actor.username, isAdmin: actor.isAdmin ?? false }, this.clock());
  }

  /**
   * Makes a request. With an idempotency key, a request re-sent by the same caller answers the first one
   * (`replayed`) instead of making another; the same key with a different request is refused.
   */
  async request(
    actor: RequestActor,
    project: string,
    app: string,
    input: PromotionInput,
    automated?: Automated,
    idempotency?: IdempotencyKey,
  ): Promise<PromotionView & { replayed?: boolean }> {
    return this.make(actor, { project, application: app }, input, automated ?? null, idempotency, {
      project,
      app,
    });
  }

  /** A request made by automation, for an application it knows by id (no names looked up). */
  async requestFor(
    actor: Actor,
    applicationId: string,
    input: PromotionInput,
    automated: Automated,
  ): Promise<PromotionView> {
    return this.make(actor, { applicationId }, input, automated, undefined, undefined);
  }

  private async make(
    actor: RequestActor,
    app: ApplicationKey,
    input: PromotionInput,
    automated: Automated | null,
    idempotency: IdempotencyKey | undefined,
    names: { project: string; app: string } | undefined,
    registered = false,
  ): Promise<PromotionView & { replayed?: boolean }> {
    const now = this.clock();
    const requestId = newId();
    const fingerprint = names && idempotency ? fingerprintOf(names.project, names.app, input) : '';
    const outcome = await this.db
      .transaction()
      .execute(async (trx) => {
        if (idempotency) {
          const first = await claimIdempotencyKey(trx, {
            username: actor.username,
            key: idempotency.key,
            fingerprint,
            requestId,
            at: now,
          });
          if (first) return { replay: first };
        }
        const context = await this.context(trx, app, input);
        const plan = planPromotion(
          context,
          input,
          { username: actor.username, isAdmin: actor.isAdmin ?? false },
          now,
          automated,
        );
        // Unknown to hoist, or not known to be in the source: read it from the registry, outside this transaction.
        const unknown =
          plan.refusal?.kind === 'not-found' || (plan.refusal?.kind === 'invalid' && plan.refusal.field === 'from');
        // Rolled back, not committed: an idempotency key claimed for a request not made yet must not stay behind.
        if (unknown && !registered && names && this.firstUse) throw new RegisterFirst();
        const done = await this.executor.request(trx, plan, actor, now, context.webhooks, requestId);
        return { plan, done };
      })
      .catch((e: unknown) => {
        if (e instanceof RegisterFirst) return { register: true as const };
        throw e;
      });
    if ('register' in outcome && names && this.firstUse) {
      await this.firstUse.resolve(actor, names.project, names.app, input.from, {
        ...(input.tag !== undefined ? { tag: input.tag } : {}),
        ...(input.digest !== undefined ? { digest: input.digest } : {}),
      });
      return this.make(actor, app, input, automated, idempotency, names, true);
    }
    if ('replay' in outcome && outcome.replay) {
      if (outcome.replay.fingerprint !== fingerprint)
        throw new Conflict(
          `Idempotency-Key "${idempotency?.key ?? ''}" was used for a different request; send a new key for a new request`,
        );
      return { ...(await this.get(names?.project ?? '', outcome.replay.requestId)), replayed: true };
    }
    if (!('done' in outcome) || !outcome.done) throw new Error('unreachable: a request outcome without a result');
    if (outcome.done.queued) this.onQueued();
    this.outbox.wake();
    return plannedView(outcome.plan, outcome.done.requestId, now);
  }

  /** Whether a key was used by this caller already (answers the request it made). */
  async idempotentReplay(username: string, key: string): Promise<string | undefined> {
    return (await findIdempotencyKey(this.db, username, key))?.requestId;
  }

  async get(project: string, id: string): Promise<PromotionView> {
    const [view] = await withReleases(this.db, requestViews(await findRequests(this.db, project, { id })), (v) => v.id);
    if (!view) throw new NotFound('promotion', id);
    return withTimelines(view, await auditOfRequest(this.db, id));
  }

  /** Approves or rejects the request's targets awaiting approval (only `environments` when given). */
  async decide(
    identity: Caller,
    requestId: string,
    project: string,
    decision: 'approve' | 'reject',
    comment: string,
    environments?: string[],
  ): Promise<PromotionView> {
    return this.onLocked(identity, project, requestId, comment, (context) =>
      planDecision(context, identity, decision, comment, environments),
    );
  }

  /** The requester (or an admin) withdraws every target that has not finished. */
  async cancel(identity: Caller, requestId: string, project: string): Promise<PromotionView> {
    return this.onLocked(identity, project, requestId, '', (context) => planCancel(context, identity));
  }

  private async onLocked(
    identity: Caller,
    project: string,
    requestId: string,
    comment: string,
    plan: (context: NonNullable<Awaited<ReturnType<typeof loadDecisionContext>>>) => DecisionPlan,
  ): Promise<PromotionView> {
    const now = this.clock();
    const made = await this.db.transaction().execute(async (trx) => {
      if (!(await lockRequest(trx, project, requestId))) throw new NotFound('promotion', requestId);
      const context = await loadDecisionContext(trx, requestId);
      if (!context) throw new NotFound('promotion', requestId);
      const decided = await planOnRelease(trx, context, plan);
      await this.executor.decision(trx, context, decided, { username: identity.username }, comment, now);
      return decided;
    });
    if (made.changes.some((c) => c.state === 'QUEUED')) this.onQueued();
    this.outbox.wake();
    return this.get(project, requestId);
  }

  /**
   * What a retry of the whole request concerns, for the permission check: its FAILED targets and those that may still
   * fail before the retry holds the request (a retry names its environments to concern only those).
   */
  async retryableEnvironments(project: string, requestId: string): Promise<string[]> {
    return retryableEnvironments(this.db, project, requestId);
  }

  /**
   * Queues a request's FAILED targets again (only `environments` when given), re-checked as a new request would be
   * (src/promotion/plan-retry.ts) and keeping their approvals. Under the request's lock, so two retries at once
   * re-queue once: the second finds nothing FAILED and is refused (Conflict).
   */
  async retry(
    actor: RequestActor,
    project: string,
    requestId: string,
    environments?: string[],
  ): Promise<PromotionView> {
    const now = this.clock();
    const plan = await this.db.transaction().execute(async (trx) => {
      if (!(await lockRequest(trx, project, requestId))) throw new NotFound('promotion', requestId);
      await refuseReleaseRetry(trx, requestId);
      const loaded = await loadRetry(trx, requestId);
      if (!loaded) throw new NotFound('promotion', requestId);
      const context = await this.context(
        trx,
        { project: loaded.project, application: loaded.application },
        { digest: loaded.request.digest, from: loaded.request.from, to: [] },
      );
      const retry = planRetry(
        context,
        loaded.request,
        loaded.targets,
        { username: actor.username, isAdmin: actor.isAdmin ?? false },
        now,
        environments,
      );
      await this.executor.retry(trx, requestId, retry, actor, now);
      return retry;
    });
    if (plan.targets.some((t) => t.plan.state === 'QUEUED')) this.onQueued();
    return this.get(project, requestId);
  }

  /**
   * Re-evaluates, inside a policy change's own transaction, the targets the change concerns (see
   * src/promotion/plan-reevaluation.ts) and answers what becomes of them; with `dryRun` nothing is written (the
   * policy preview). Call `reevaluated` after the transaction committed.
   */
  async reevaluateIn(
    trx: Transaction<Schema>,
    actor: Actor,
    change: PolicyChange,
    filter: WaitingFilter,
    opts: { dryRun?: boolean; now?: Date } = {},
  ): Promise<Reevaluation[]> {
    const now = opts.now ?? this.clock();
    // Requests lock in id order everywhere; the single-artifact ones and the releases' are disjoint sets.
    const planned = [
      ...planReevaluation(await lockWaitingTargets(trx, filter), change, now),
      ...planReleaseReevaluation(await lockWaitingReleaseTargets(trx, filter), change),
    ];
    if (!opts.dryRun && planned.length > 0) await this.executor.reevaluation(trx, planned, actor, change.policy, now);
    return planned;
  }

  /** After a re-evaluation committed: wake the runner when something was queued. */
  reevaluated(changes: readonly Reevaluation[]): void {
    if (changes.some((c) => c.state === 'QUEUED' && c.before !== 'QUEUED')) this.onQueued();
  }

  /** Requests of a project, newest first; `state` and `environment` narrow them. Three queries per page. */
  /** Requests newest first, a page at a time (`cursor`: the nextCursor of the previous page). */
  async list(
    project: string,
    f: { state?: TargetState; environment?: string; limit?: number; cursor?: string; pendingFor?: string } = {},
  ): Promise<Page<PromotionView>> {
    const rows = await findRequests(this.db, project, f);
    return { items: await withReleases(this.db, requestViews(rows), (v) => v.id), nextCursor: rows.nextCursor };
  }

  /** How many requests, in every project, have a target this person may approve now (the console's badge). */
  async waitingFor(username: string): Promise<number> {
    return countWaitingFor(this.db, username);
  }

  /**
   * What happened: finished targets (promoted, rejected, failed, canceled, stale), newest first, with who asked,
   * from where to where, the digest and tag, the comment, the approvals, the policy version and verdict, and the
   * bytes copied. Filters narrow by application, environment, digest, requesting user and time.
   */
  async history(project: string, f: HistoryFilter = {}): Promise<Page<HistoryEntry>> {
    const { rows, decisions, nextCursor } = await findHistory(this.db, project, f);
    const items = rows.map((r): HistoryEntry => {
      const result = json<{ tag?: string | null } | null>(r.result);
      const verdict = json<{ allowed?: boolean } | null>(r.verdict);
      return {
        at: r.at.toISOString(),
        request: r.requestId,
        application: r.application,
        from: r.from,
        to: r.to,
        digest: r.digest,
        // The tag written; for a target that never got that far, the one it would have written.
        tag:
          result?.tag ??
          r.chosenTag ??
          targetTag(r.targetKind, r.targetTemplate, r.application, r.requestedTag ?? null),
        state: r.state,
        requestedBy: r.requestedBy,
        comment: r.comment,
        approvals: decisions
          .filter((d) => d.target_id === r.id)
          .map((d) => ({ username: d.username, decision: d.decision, at: d.at.toISOString() })),
        policy:
          r.policy_name !== null
            ? { name: r.policy_name, version: r.policy_version ?? 0, allowed: verdict?.allowed ?? true }
            : null,
        bytesCopied: bytesCopiedOf(r.result) ?? 0,
        reason: r.reason,
      };
    });
    return { items: await withReleases(this.db, items, (e) => e.request), nextCursor };
  }

  /**
   * May `deployer` run `digest` in `environment`? Only if it was promoted there, and not by a person who approved
   * that promotion unless its policy allows approvers to deploy.
   */
  async deployable(
    project: string,
    environment: string,
    digest: string,
    deployer?: string,
  ): Promise<{ allowed: boolean; reason: string; promotion?: string }> {
    const latest = await latestPromotion(this.db, project, environment, digest, deployer);
    if (!latest) return { allowed: false, reason: `${digest} was never promoted to ${environment}` };
    if (deployer !== undefined && latest.approvedByDeployer && !(latest.allowApproverFromDeploy ?? false))
      return {
        allowed: false,
        reason: `${deployer} approved this promotion, and the policy does not let an approver deploy it (allowApproverFromDeploy)`,
        promotion: latest.requestId,
      };
    return {
      allowed: true,
      reason: `promoted to ${environment} on ${latest.updated_at.toISOString()}`,
      promotion: latest.requestId,
    };
  }
}
