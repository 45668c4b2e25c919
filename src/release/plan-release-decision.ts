/**
 * A decision on a release's request (approve, reject, cancel), planned with the ordinary decision planner
 * (src/promotion/plan-decision.ts) once per application: each time with that application's policy version for every
 * target and its image's builder, so separation of duties holds for each (a requester whom one application's policy
 * bars may not approve the release). Refused if any is refused (the refusal names the application); otherwise the
 * changes are the same for all, and who could still approve is who could for every application.
 */
import type { Blocker } from '../promotion/blocked-by.ts';
import type { PolicyFacts } from '../promotion/context.ts';
import type { DecisionContext, DecisionPlan } from '../promotion/plan-decision.ts';
import { refusalFor } from './plan-release.ts';

export interface ReleaseDecisionPart {
  application: string;
  builder: string | undefined;
  /** The policy each target was planned under for this application, by target id (absent: none). */
  policies: Record<string, PolicyFacts>;
}

export function planReleaseDecision<C extends DecisionContext>(
  context: C,
  parts: readonly ReleaseDecisionPart[],
  plan: (context: C) => DecisionPlan,
): DecisionPlan {
  const plans: DecisionPlan[] = [];
  for (const part of parts) {
    const decided = plan({
      ...context,
      builder: part.builder,
      targets: context.targets.map((t) => ({ ...t, policy: part.policies[t.id] ?? null })),
    });
    if (decided.refusal) {
      // "Nothing awaits approval" is the same for every application; a duty or role refusal is about one.
      const about = decided.refusal.kind === 'forbidden' && decided.refusal.roleHelps === false;
      return about ? { ...decided, refusal: refusalFor(part.application, decided.refusal) } : decided;
    }
    plans.push(decided);
  }
  const first = plans[0];
  if (!first) return plan(context);
  const eligibleBy = (targetId: string): string[] | undefined =>
    plans
      .map((p) => p.changes.find((c) => c.targetId === targetId)?.blockedBy.find((b) => b.kind === 'approvals'))
      .map((b) => (b?.kind === 'approvals' ? b.eligible : []))
      .reduce<string[] | undefined>((all, list) => (all ? all.filter((u) => list.includes(u)) : list), undefined);
  return {
    ...first,
    changes: first.changes.map((c) => ({
      ...c,
      blockedBy: c.blockedBy.map((b): Blocker =>
        b.kind === 'approvals' ? { ...b, eligible: eligibleBy(c.targetId) ?? b.eligible } : b,
      ),
    })),
  };
}
