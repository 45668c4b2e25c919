/**
 * Carries out promotion plans (src/promotion/*) inside the caller's transaction: the request and its targets (or a
 * decision's, cancellation's or re-evaluation's target changes), the hash-chained audit entry, and the notices in
 * the outbox, so that all of it commits or none of it does. It decides nothing: what to write is in the plan.
 */
import type { Transaction } from 'kysely';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.ts';
import type { DecisionContext, DecisionPlan } from '../promotion/plan-decision.ts';
import type { PromotionPlan } from '../promotion/plan.ts';
import type { Reevaluation } from '../promotion/plan-reevaluation.ts';
import type { RetryPlan } from '../promotion/plan-retry.ts';
import type { Refusal } from '../promotion/refusal.ts';
import { storableVariables } from '../promotion/variables.ts';
import { appendAudit } from '../store/audit.repository.ts';
import { applyTargetChanges, blockersJson, insertRequest, recordFiring } from '../store/promotions.repository.ts';
import type { Schema } from '../store/schema.ts';
import { requeueFailed } from '../store/retry-targets.repository.ts';
import { applyReevaluation } from '../store/waiting-targets.query.ts';
import type { Actor } from './audited.ts';
import type { Outbox, PromotionNotice } from './outbox.ts';
import { newId } from './tokens.ts';

/** The automation fired already for this key: nothing was requested. */
export class AlreadyFired extends Error {}

type Hooks = ReadonlyArray<{ id: string; events: unknown }>;

/** The domain error a refusal names. */
export function refusalError(r: Refusal): Error {
  switch (r.kind) {
    case 'invalid':
      return new InvalidInput(r.message, r.field);
    case 'not-found':
      return new NotFound(r.objectType, r.name);
    case 'conflict':
      return new Conflict(r.message);
    case 'forbidden':
      return new Forbidden(r.message, r.roleHelps === false ? { roleHelps: false } : {});
  }
}

export interface ExecutedRequest {
  requestId: string;
  targetIds: string[];
  queued: boolean;
}

export class PromotionExecutor {
  constructor(private readonly outbox: Outbox) {}

  /** Writes a planned request; the plan must have no refusal. */
  async request(
    trx: Transaction<Schema>,
    plan: PromotionPlan,
    actor: Actor,
    now: Date,
    hooks: Hooks,
    requestId = newId(),
  ): Promise<ExecutedRequest> {
    if (plan.refusal) throw refusalError(plan.refusal);
    const { artifact, from, project, application } = plan;
    if (!artifact || !from) throw new Error('a plan without refusal names its artifact and source');
    if (plan.automated) {
      const fired = await recordFiring(trx, { key: plan.automated.key, artifactId: artifact.id, requestId, at: now });
      if (!fired) throw new AlreadyFired(plan.automated.key);
    }
    const targets = plan.targets.map((t) => ({ ...t, id: newId() }));
    await insertRequest(trx, {
      id: requestId,
      projectId: project.id,
      applicationId: application.id,
      artifactId: artifact.id,
      digest: artifact.digest,
      sourceEnvId: from.id,
      requestedBy: plan.requester,
      comment: plan.comment,
      tag: plan.tag,
      at: now,
      targets: targets.map((t) => ({
        id: t.id,
        environmentId: t.environment.id,
        state: t.state,
        policy: t.policy,
        approvalsNeeded: t.approvalsNeeded,
        verdict: t.verdict,
        variables: t.variables,
        reason: t.reasons.length > 0 ? t.reasons.join('; ') : null,
        blockedBy: t.blockedBy,
        tag: t.tag,
        windowOverride: t.windowOverride,
      })),
    });
    const base = {
      projectId: project.id,
      project: project.name,
      application: application.name,
      requestId,
      digest: artifact.digest,
      from: from.name,
      actor: plan.requester,
      requestedBy: plan.requester,
      ...(plan.comment ? { comment: plan.comment } : {}),
    };
    await this.outbox.addRequested(trx, base, targets, plan.states, now, hooks);
    await appendAudit(trx, {
      actor: actor.username,
      action: 'promotion.request',
      objectType: 'promotion',
      objectId: requestId,
      requestId: actor.requestId ?? null,
      at: now,
      summary: {
        project: project.name,
        application: application.name,
        digest: artifact.digest,
        from: from.name,
        to: Object.keys(plan.states),
        states: plan.states,
        ...(plan.automated ? { automation: plan.automated.key } : {}),
        ...(targets.some((t) => t.windowOverride) ? { windowOverride: true } : {}),
      },
    });
    return { requestId, targetIds: targets.map((t) => t.id), queued: targets.some((t) => t.state === 'QUEUED') };
  }

  /** Writes an approve, reject or cancel plan made from the request locked in this transaction. */
  async decision(
    trx: Transaction<Schema>,
    context: DecisionContext & { webhooks: Hooks },
    plan: DecisionPlan,
    actor: Actor,
    comment: string,
    now: Date,
  ): Promise<void> {
    if (plan.refusal) throw refusalError(plan.refusal);
    await applyTargetChanges(trx, plan.changes, { username: actor.username, comment, at: now });
    if (plan.action !== 'cancel' && plan.changes.length > 0) {
      const notice: PromotionNotice = {
        event: plan.action === 'approve' ? 'promotion.approved' : 'promotion.rejected',
        projectId: context.project.id,
        project: context.project.name,
        application: context.request.application,
        requestId: context.request.id,
        digest: context.request.digest,
        from: context.request.from,
        environments: Object.keys(plan.states),
        actor: actor.username,
        requestedBy: context.request.requestedBy,
        states: plan.states,
        ...(comment ? { comment } : {}),
      };
      await this.outbox.add(trx, notice, now, context.webhooks);
    }
    await appendAudit(trx, {
      actor: actor.username,
      action: `promotion.${plan.action}`,
      objectType: 'promotion',
      objectId: context.request.id,
      requestId: actor.requestId ?? null,
      at: now,
      summary:
        plan.action === 'cancel'
          ? { canceled: Object.keys(plan.states) }
          : { decision: plan.action, comment, states: plan.states },
    });
  }

  /** Writes a retry plan: its FAILED targets queued again (fenced), and one audit entry with what failed before. */
  async retry(trx: Transaction<Schema>, requestId: string, plan: RetryPlan, actor: Actor, now: Date): Promise<void> {
    if (plan.refusal) throw refusalError(plan.refusal);
    await requeueFailed(
      trx,
      plan.targets.map(({ target, plan: p }) => ({
        targetId: target.id,
        token: target.token,
        state: p.state,
        policy: p.policy,
        approvalsNeeded: p.approvalsNeeded,
        verdict: p.verdict,
        variables: p.variables,
        blockedBy: p.blockedBy,
      })),
      now,
    );
    await appendAudit(trx, {
      actor: actor.username,
      action: 'promotion.retry',
      objectType: 'promotion',
      objectId: requestId,
      requestId: actor.requestId ?? null,
      at: now,
      summary: {
        states: plan.states,
        failed: Object.fromEntries(plan.targets.map(({ target }) => [target.environment, target.reason])),
      },
    });
  }

  /** Writes a re-evaluation after a policy change, one audit entry per request it touched. */
  async reevaluation(
    trx: Transaction<Schema>,
    changes: readonly Reevaluation[],
    actor: Actor,
    policy: string,
    now: Date,
  ): Promise<void> {
    await applyReevaluation(
      trx,
      changes.map((c) => ({
        targetId: c.targetId,
        before: c.before,
        state: c.state,
        policy: c.policy,
        approvalsNeeded: c.approvalsNeeded,
        reason: c.reason,
        blockedBy: blockersJson(c.blockedBy),
        verdict: JSON.stringify(c.verdict),
        variables: storableVariables(c.variables),
      })),
      now,
    );
    const byRequest = new Map<string, Reevaluation[]>();
    for (const c of changes) byRequest.set(c.requestId, [...(byRequest.get(c.requestId) ?? []), c]);
    for (const [requestId, list] of byRequest)
      await appendAudit(trx, {
        actor: actor.username,
        action: 'promotion.reevaluate',
        objectType: 'promotion',
        objectId: requestId,
        requestId: actor.requestId ?? null,
        at: now,
        summary: {
          policy,
          states: Object.fromEntries(list.map((c) => [c.environment, { before: c.before, after: c.state }])),
        },
      });
  }
}
