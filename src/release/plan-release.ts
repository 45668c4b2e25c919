/**
 * A release's promotion, planned purely from one promotion plan per application (src/promotion/plan.ts, each made
 * from that application's own context, policies and image): the request is refused if any application's is (the
 * refusal names the application), and each target environment is decided on the whole set — refused if any
 * application's target is (each reason names its application), waiting for approvals if any needs them (as many as
 * the most demanding policy asks, from people every policy allows), else queued. The decision code is not repeated
 * here: this only combines its answers.
 */
import type { Verdict } from '../policy/evaluate.ts';
import type { Blocker } from '../promotion/blocked-by.ts';
import { reasonsOf } from '../promotion/blocked-by.ts';
import type { EnvironmentFacts } from '../promotion/context.ts';
import type { PromotionPlan, TargetPlan } from '../promotion/plan.ts';
import type { Refusal } from '../promotion/refusal.ts';

export interface ReleasePart {
  application: string;
  plan: PromotionPlan;
}

export interface ReleaseTargetPlan {
  environment: EnvironmentFacts;
  state: TargetPlan['state'];
  approvalsNeeded: number;
  blockedBy: Blocker[];
  reasons: string[];
  verdict: Verdict;
  /** Each application's policy for this target (absent: none applies to it). */
  policies: Array<{ application: string; policy: { name: string; version: number } }>;
  /** The variables each application's policy saw, by application. */
  variables: Record<string, unknown>;
}

export interface ReleasePlan {
  refusal: Refusal | null;
  parts: ReleasePart[];
  /** One per distinct target environment, in the order first named. */
  targets: ReleaseTargetPlan[];
  states: Record<string, TargetPlan['state']>;
}

/** The same refusal, saying which application it is about. */
export function refusalFor(application: string, r: Refusal): Refusal {
  switch (r.kind) {
    case 'not-found':
      return r;
    case 'invalid':
      return { ...r, message: `${application}: ${r.message}` };
    case 'conflict':
      return { ...r, message: `${application}: ${r.message}` };
    case 'forbidden':
      return { ...r, message: `${application}: ${r.message}` };
  }
}

/** The blocker, its message naming the application (approvals are combined separately). */
function blockerFor(application: string, b: Blocker): Blocker {
  return b.kind === 'approvals' ? b : { ...b, message: `${application}: ${b.message}` };
}

function combineTarget(name: string, parts: ReadonlyArray<{ application: string; target: TargetPlan }>) {
  const first = parts[0]?.target as TargetPlan;
  const refusing = parts.flatMap(({ application, target }) =>
    target.blockedBy.filter((b) => b.kind !== 'approvals').map((b) => blockerFor(application, b)),
  );
  const waits = parts.flatMap(({ target }) => target.blockedBy.filter((b) => b.kind === 'approvals'));
  const need = Math.max(0, ...parts.map((p) => p.target.approvalsNeeded));
  const blockedBy: Blocker[] = [...refusing];
  let state: TargetPlan['state'] = 'QUEUED';
  if (refusing.length > 0 || parts.some((p) => p.target.state === 'REJECTED')) state = 'REJECTED';
  else if (waits.length > 0) {
    state = 'AWAITING_APPROVAL';
    // Who could approve for every application; why: the most demanding application's reason.
    const most = waits.reduce((a, b) => (b.kind === 'approvals' && a.kind === 'approvals' && b.need > a.need ? b : a));
    const eligible = waits
      .map((w) => (w.kind === 'approvals' ? w.eligible : []))
      .reduce((all, list) => all.filter((u) => list.includes(u)));
    blockedBy.push({
      kind: 'approvals',
      have: 0,
      need,
      eligible,
      because: most.kind === 'approvals' ? most.because : 'policy',
    });
  }
  const verdict: Verdict = {
    allowed: parts.every((p) => p.target.verdict.allowed),
    reasons: parts.flatMap((p) => p.target.verdict.reasons.map((r) => `${p.application}: ${r}`)),
    conditions: parts.flatMap((p) => p.target.verdict.conditions),
  };
  return {
    environment: first.environment,
    state,
    approvalsNeeded: need,
    blockedBy,
    reasons: reasonsOf(blockedBy),
    verdict,
    policies: parts.flatMap(({ application, target }) =>
      target.policy ? [{ application, policy: target.policy }] : [],
    ),
    variables: Object.fromEntries(parts.map((p) => [p.application, p.target.variables])),
    name,
  };
}

/** Combines the applications' plans (at least one, all for the same source and targets) into the release's. */
export function planRelease(parts: readonly ReleasePart[]): ReleasePlan {
  const plan: ReleasePlan = { refusal: null, parts: [...parts], targets: [], states: {} };
  for (const part of parts)
    if (part.plan.refusal) return { ...plan, refusal: refusalFor(part.application, part.plan.refusal) };
  const names = (parts[0]?.plan.targets ?? []).map((t) => t.environment.name);
  for (const name of names) {
    const perApp = parts.map((p) => ({
      application: p.application,
      target: p.plan.targets.find((t) => t.environment.name === name) as TargetPlan,
    }));
    const { name: _name, ...target } = combineTarget(name, perApp);
    plan.targets.push(target);
    plan.states[name] = target.state;
  }
  return plan;
}
