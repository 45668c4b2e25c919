/**
 * One target of a promotion request, decided purely: the pipeline edge (or a policy that allows skipping stages),
 * the policy's verdict over the artifact's variables (fail wins, an error denies), and the approvals it needs.
 * Answers the target's state and every reason as a blocker.
 */
import { evaluatePolicy, type Verdict } from '../policy/evaluate.ts';
import { approvalsNeeded, eligibleApprovers } from './approvers.ts';
import { conditionValues, type Blocker } from './blocked-by.ts';
import type { ArtifactFacts, DeciderFacts, EnvironmentFacts, PolicyFacts } from './context.ts';
import { artifactVariables } from './variables.ts';

export interface TargetDecision {
  state: 'QUEUED' | 'AWAITING_APPROVAL' | 'REJECTED';
  policy: { name: string; version: number } | null;
  approvalsNeeded: number;
  blockedBy: Blocker[];
  verdict: Verdict;
  variables: Record<string, unknown>;
}

export interface TargetFacts {
  artifact: ArtifactFacts;
  from: EnvironmentFacts;
  to: EnvironmentFacts;
  policy: PolicyFacts | null;
  /** Whether the pipeline has the edge from → to. */
  onEdge: boolean;
  requester: string;
  deciders: readonly DeciderFacts[];
  /** An automation asks for at least one approval. */
  automationNeedsOne: boolean;
  /** Approvals given so far (re-evaluation); empty for a new request. */
  approvedBy?: readonly string[];
  /** Decided already (approved or rejected): not eligible any more. */
  decidedBy?: readonly string[];
}

export const NO_POLICY_VERDICT: Verdict = { allowed: true, reasons: [], conditions: [] };

/** The policy blocker for a denying verdict, with the values each condition saw. */
export function policyBlocker(policy: PolicyFacts, verdict: Verdict, vars: Record<string, unknown>): Blocker {
  return {
    kind: 'policy',
    policy: { name: policy.name, version: policy.version },
    conditions: verdict.conditions.map((c) => ({ ...c, values: conditionValues(c.expression, vars) })),
    message: verdict.reasons.join('; '),
  };
}

export function decideTarget(f: TargetFacts, now: Date): TargetDecision {
  const variables = artifactVariables(f.artifact, f.from.name, f.to.name, f.requester, now);
  const verdict = f.policy
    ? evaluatePolicy({ pass: f.policy.passConditions, fail: f.policy.failConditions }, variables)
    : NO_POLICY_VERDICT;
  const skipAllowed = (f.policy?.allowSkipStages ?? false) && f.from.position < f.to.position;
  const blockedBy: Blocker[] = [];
  if (!f.onEdge && !skipAllowed)
    blockedBy.push({
      kind: 'edge',
      from: f.from.name,
      to: f.to.name,
      message: `the pipeline has no edge ${f.from.name} → ${f.to.name}${f.policy ? ` and policy ${f.policy.name} does not allow skipping stages` : ''}`,
    });
  if (f.policy && !verdict.allowed) blockedBy.push(policyBlocker(f.policy, verdict, variables));
  const { need, because } = approvalsNeeded(f.policy, f.to.protected, f.automationNeedsOne);
  const have = f.approvedBy?.length ?? 0;
  const policyRef = f.policy ? { name: f.policy.name, version: f.policy.version } : null;
  const base = { policy: policyRef, approvalsNeeded: need, verdict, variables };
  if (blockedBy.length > 0) return { ...base, state: 'REJECTED', blockedBy };
  if (have >= need) return { ...base, state: 'QUEUED', blockedBy };
  const eligible = eligibleApprovers(
    f.deciders,
    f.to.name,
    f.policy,
    f.requester,
    f.artifact.build.builder,
    new Set(f.decidedBy ?? f.approvedBy ?? []),
  );
  return { ...base, state: 'AWAITING_APPROVAL', blockedBy: [{ kind: 'approvals', have, need, eligible, because }] };
}
