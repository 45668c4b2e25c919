/**
 * After a policy changed, was deleted or was applied elsewhere: what becomes of the targets not started yet
 * (AWAITING_APPROVAL or QUEUED) that it governs. Governance fails closed: a change never lets a waiting target
 * through with fewer approvals than it was asked under. A deleted policy, or one that now denies the image or asks
 * for fewer approvals, makes the target STALE (request it again under the rules in force); one that asks for more
 * sends a queued target back to wait for them. Pure; the policy service runs it in the change's own transaction.
 */
import type { Blocker } from './blocked-by.ts';
import type { ArtifactFacts, DeciderFacts, EnvironmentFacts, PolicyFacts, TargetState } from './context.ts';
import { decideTarget } from './decide-target.ts';

export interface WaitingTarget {
  id: string;
  requestId: string;
  project: string;
  application: string;
  from: EnvironmentFacts;
  to: EnvironmentFacts;
  state: 'AWAITING_APPROVAL' | 'QUEUED';
  policyName: string | null;
  policyVersion: number | null;
  approvalsNeeded: number;
  approvedBy: string[];
  decidedBy: string[];
  requestedBy: string;
  artifact: ArtifactFacts;
  /** The policy in force there after the change (null: none). */
  policyNow: PolicyFacts | null;
  deciders: DeciderFacts[];
}

export interface Reevaluation {
  targetId: string;
  requestId: string;
  project: string;
  application: string;
  environment: string;
  before: TargetState;
  state: TargetState;
  policy: { name: string; version: number } | null;
  approvalsNeeded: number;
  reason: string | null;
  blockedBy: Blocker[];
  verdict: unknown;
  variables: Record<string, unknown>;
}

/**
 * `unapply`: the policy was removed from the targets' application × environment. `trust`: the policy is the same, the
 * verdict on the image's signatures changed (the project's trust roots changed, or evidence was read); `policy` then
 * says why, for messages and the audit.
 */
export type PolicyChange = { kind: 'update' | 'apply' | 'delete' | 'unapply' | 'trust'; policy: string };

/** Only the targets whose state, policy version or approval count the change alters (nothing to write otherwise). */
export function planReevaluation(targets: readonly WaitingTarget[], change: PolicyChange, now: Date): Reevaluation[] {
  return targets
    .map((t) => [t, reevaluate(t, change, now)] as const)
    .filter(
      ([t, r]) =>
        r.state !== t.state ||
        r.approvalsNeeded !== t.approvalsNeeded ||
        (r.policy?.name ?? null) !== t.policyName ||
        (r.policy?.version ?? null) !== t.policyVersion,
    )
    .map(([, r]) => r);
}

function reevaluate(t: WaitingTarget, change: PolicyChange, now: Date): Reevaluation {
  {
    const d = decideTarget(
      {
        artifact: t.artifact,
        from: t.from,
        to: t.to,
        policy: change.kind === 'delete' || change.kind === 'unapply' ? null : t.policyNow,
        // Re-evaluation judges the policy, not the pipeline: the edge was checked when the request was made.
        onEdge: true,
        requester: t.requestedBy,
        deciders: t.deciders,
        automationNeedsOne: false,
        approvedBy: t.approvedBy,
        decidedBy: t.decidedBy,
      },
      now,
    );
    const base = {
      targetId: t.id,
      requestId: t.requestId,
      project: t.project,
      application: t.application,
      environment: t.to.name,
      before: t.state,
      policy: d.policy,
      verdict: d.verdict,
      variables: d.variables,
    };
    const stale = (message: string): Reevaluation => ({
      ...base,
      state: 'STALE',
      approvalsNeeded: t.approvalsNeeded,
      reason: message,
      blockedBy: [{ kind: 'stale', message }],
    });
    if (change.kind === 'delete')
      return stale(`policy ${change.policy} was deleted; request again under the rules in force now`);
    if (change.kind === 'unapply')
      return stale(
        `policy ${change.policy} no longer applies to ${t.application} → ${t.to.name}; request again under the rules in force now`,
      );
    const what = change.kind === 'trust' ? change.policy : `policy ${change.policy} changed`;
    if (d.state === 'REJECTED')
      return stale(`${what}: ${d.blockedBy.map((b) => ('message' in b ? b.message : '')).join('; ')}`);
    if (d.approvalsNeeded < t.approvalsNeeded)
      return stale(
        `${what}: it now needs ${d.approvalsNeeded} approval(s) where this was requested under ${t.approvalsNeeded}; request again under the rules in force now`,
      );
    return { ...base, state: d.state, approvalsNeeded: d.approvalsNeeded, reason: null, blockedBy: d.blockedBy };
  }
}

/** A release's target not started yet that a change concerns (one of its applications' policies or verdicts). */
export interface WaitingReleaseTarget {
  id: string;
  requestId: string;
  project: string;
  release: string;
  /** The release's applications the change concerns. */
  applications: string[];
  environment: string;
  state: 'AWAITING_APPROVAL' | 'QUEUED';
  policyName: string | null;
  policyVersion: number | null;
  approvalsNeeded: number;
}

/**
 * A release was decided on every application's policy at once (src/release/plan-release.ts), so one application's
 * change is not re-planned on its own: any change that concerns one of its applications makes the release's waiting
 * target STALE, whichever way the change goes (fails closed: promote the release again under the rules in force).
 */
export function planReleaseReevaluation(
  targets: readonly WaitingReleaseTarget[],
  change: PolicyChange,
): Reevaluation[] {
  const what =
    change.kind === 'trust'
      ? change.policy
      : change.kind === 'delete'
        ? `policy ${change.policy} was deleted`
        : change.kind === 'unapply'
          ? `policy ${change.policy} no longer applies`
          : `policy ${change.policy} changed`;
  return targets.map((t) => {
    const message = `${what} (for ${t.applications.join(', ')} of release ${t.release}); promote the release again under the rules in force now`;
    return {
      targetId: t.id,
      requestId: t.requestId,
      project: t.project,
      application: t.applications[0] ?? t.release,
      environment: t.environment,
      before: t.state,
      state: 'STALE',
      policy:
        t.policyName === null || t.policyVersion === null ? null : { name: t.policyName, version: t.policyVersion },
      approvalsNeeded: t.approvalsNeeded,
      reason: message,
      blockedBy: [{ kind: 'stale', message }],
      verdict: null,
      variables: {},
    };
  });
}
