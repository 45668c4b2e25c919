/**
 * Retrying a request's FAILED targets (`hoist retry ID`): the targets are planned again exactly as a new request for
 * them would be (./plan.ts: the image still in the source, not quarantined, soaked; the pipeline edge; the policy in
 * force now; the promotion window), judged as the original requester's, with the approvals they were given kept. A
 * target whose policy now asks for more approvals waits for them; anything that would refuse a new request refuses
 * the retry, and nothing changes. Only FAILED targets are touched: a PROMOTED one never is. Pure, like the others.
 */
import type { TargetState } from './context.ts';
import type { PromotionContext } from './context.ts';
import { planPromotion, type PlanRequester, type PriorDecisions, type TargetPlan } from './plan.ts';
import type { Refusal } from './refusal.ts';

/** The request being retried, as stored. */
export interface RetriedRequest {
  id: string;
  digest: string;
  from: string;
  /** The tag the request was judged with. */
  tag: string | null;
  requestedBy: string;
}

/** One target of the request as it is now. */
export interface RequestTarget {
  id: string;
  environment: string;
  state: TargetState;
  /** The fencing token: the retry changes the target only if it still has this one (and is still FAILED). */
  token: number;
  windowOverride: boolean;
  approvedBy: string[];
  decidedBy: string[];
  /** Why it failed. */
  reason: string | null;
}

export interface RetriedTarget {
  target: RequestTarget;
  plan: TargetPlan & { state: 'QUEUED' | 'AWAITING_APPROVAL' };
}

export interface RetryPlan {
  refusal: Refusal | null;
  targets: RetriedTarget[];
  /** New state by environment name (for the audit entry). */
  states: Record<string, 'QUEUED' | 'AWAITING_APPROVAL'>;
}

export function planRetry(
  context: PromotionContext,
  request: RetriedRequest,
  targets: readonly RequestTarget[],
  retrier: PlanRequester,
  now: Date,
  only?: readonly string[],
): RetryPlan {
  const refuse = (refusal: Refusal): RetryPlan => ({ refusal, targets: [], states: {} });
  const byEnv = new Map(targets.map((t) => [t.environment, t]));
  for (const env of only ?? []) {
    const t = byEnv.get(env);
    if (!t)
      return refuse({ kind: 'invalid', message: `request ${request.id} has no target ${env}`, field: 'environments' });
    if (t.state !== 'FAILED')
      return refuse({ kind: 'conflict', message: `${env} is ${t.state}: only a FAILED target is retried` });
  }
  const chosen = targets.filter((t) => t.state === 'FAILED' && (only === undefined || only.includes(t.environment)));
  if (chosen.length === 0)
    return refuse({
      kind: 'conflict',
      message: `request ${request.id} has no FAILED target to retry (${targets.map((t) => `${t.environment} ${t.state}`).join(', ')})`,
    });

  const prior: PriorDecisions = new Map(
    chosen.map((t) => [t.environment, { approvedBy: t.approvedBy, decidedBy: t.decidedBy }]),
  );
  const plan = planPromotion(
    context,
    {
      digest: request.digest,
      ...(request.tag !== null ? { tag: request.tag } : {}),
      from: request.from,
      to: chosen.map((t) => t.environment),
      // An admin's override of the window holds for an admin's retry only.
      ...(retrier.isAdmin && chosen.every((t) => t.windowOverride) ? { overrideWindow: true } : {}),
    },
    { username: request.requestedBy, isAdmin: retrier.isAdmin },
    now,
    null,
    prior,
  );
  const cannot = (message: string): RetryPlan => refuse({ kind: 'conflict', message: `cannot retry: ${message}` });
  if (plan.refusal) {
    const r = plan.refusal;
    return r.kind === 'not-found' ? cannot(`${r.objectType} ${r.name} does not exist any more`) : cannot(r.message);
  }
  const refused = plan.targets.filter((t) => t.state === 'REJECTED');
  if (refused.length > 0)
    return cannot(refused.map((t) => `${t.environment.name}: ${t.reasons.join('; ')}`).join('; '));

  const retried: RetriedTarget[] = plan.targets.map((p) => ({
    target: byEnv.get(p.environment.name) as RequestTarget,
    plan: p as RetriedTarget['plan'],
  }));
  return {
    refusal: null,
    targets: retried,
    states: Object.fromEntries(retried.map((r) => [r.target.environment, r.plan.state])),
  };
}
