/**
 * Decisions on an existing request, planned purely from rows the caller locked (src/store/promotions.repository.ts
 * locks the request `FOR UPDATE`, so two decisions on one request are planned one after the other): approve or
 * reject the targets awaiting approval (only those named, when named), or cancel what has not finished. A person
 * decides once per target; a repeated decision is refused with what they decided before.
 */
import { dutyConflict, eligibleApprovers, mayDecide, type Caller } from './approvers.ts';
import type { Blocker } from './blocked-by.ts';
import type { DeciderFacts, PolicyFacts, TargetState } from './context.ts';
import type { Refusal } from './refusal.ts';

export interface DecisionTarget {
  id: string;
  environment: string;
  state: TargetState;
  approvalsNeeded: number;
  /** The policy version the target was planned under (its separation-of-duties flags apply). */
  policy: PolicyFacts | null;
  decisions: Array<{ username: string; decision: 'approve' | 'reject'; at: Date }>;
  blockedBy: Blocker[] | null;
}

export interface DecisionContext {
  request: { id: string; requestedBy: string; digest: string; from: string; application: string };
  project: { id: string; name: string };
  builder: string | undefined;
  targets: DecisionTarget[];
  deciders: DeciderFacts[];
}

export interface TargetChange {
  targetId: string;
  environment: string;
  /** The state it was planned from: the change applies only if the target is still in it. */
  before: TargetState;
  state: TargetState;
  reason: string | null;
  blockedBy: Blocker[];
  /** The decision row to add (approve/reject), if any. */
  decision: 'approve' | 'reject' | null;
}

export interface DecisionPlan {
  refusal: Refusal | null;
  action: 'approve' | 'reject' | 'cancel';
  changes: TargetChange[];
  /** New state by environment name. */
  states: Record<string, TargetState>;
}

const refused = (action: DecisionPlan['action'], refusal: Refusal): DecisionPlan => ({
  refusal,
  action,
  changes: [],
  states: {},
});

const statesOf = (changes: readonly TargetChange[]) => Object.fromEntries(changes.map((c) => [c.environment, c.state]));

export function planDecision(
  context: DecisionContext,
  caller: Caller,
  decision: 'approve' | 'reject',
  comment: string,
  environments?: readonly string[],
): DecisionPlan {
  const { request, project } = context;
  const pending = context.targets.filter(
    (t) => t.state === 'AWAITING_APPROVAL' && (environments === undefined || environments.includes(t.environment)),
  );
  if (pending.length === 0)
    return refused(decision, {
      kind: 'conflict',
      message: `nothing in this request awaits approval${environments ? ` for ${environments.join(', ')}` : ''}`,
    });
  const changes: TargetChange[] = [];
  for (const t of pending) {
    if (!mayDecide(caller, project.name, t.environment))
      return refused(decision, {
        kind: 'forbidden',
        message: `deciding on ${t.environment} needs the promoter role for ${t.environment} in project "${project.name}"`,
      });
    const mine = t.decisions.find((d) => d.username === caller.username);
    if (mine)
      return refused(decision, {
        kind: 'conflict',
        message: `you have decided on ${t.environment} already (${mine.decision === 'approve' ? 'approved' : 'rejected'} at ${mine.at.toISOString()}); one decision per person`,
      });
    if (decision === 'approve') {
      const conflict = dutyConflict(t.policy, caller.username, request.requestedBy, context.builder);
      if (conflict)
        return refused(decision, { kind: 'forbidden', message: `${t.environment}: ${conflict}`, roleHelps: false });
    }
    if (decision === 'reject') {
      const message = `rejected by ${caller.username}${comment ? `: ${comment}` : ''}`;
      changes.push({
        targetId: t.id,
        environment: t.environment,
        before: t.state,
        state: 'REJECTED',
        reason: message,
        blockedBy: [{ kind: 'decision', by: caller.username, comment, message }],
        decision,
      });
      continue;
    }
    const approvers = [...t.decisions.filter((d) => d.decision === 'approve').map((d) => d.username), caller.username];
    const have = approvers.length;
    const earlier = t.blockedBy?.find((b) => b.kind === 'approvals');
    const eligible = eligibleApprovers(
      context.deciders,
      t.environment,
      t.policy,
      request.requestedBy,
      context.builder,
      new Set([...t.decisions.map((d) => d.username), caller.username]),
    );
    changes.push({
      targetId: t.id,
      environment: t.environment,
      before: t.state,
      state: have >= t.approvalsNeeded ? 'QUEUED' : 'AWAITING_APPROVAL',
      reason: null,
      blockedBy:
        have >= t.approvalsNeeded
          ? []
          : [
              {
                kind: 'approvals',
                have,
                need: t.approvalsNeeded,
                eligible,
                because: earlier?.kind === 'approvals' ? earlier.because : 'policy',
              },
            ],
      decision,
    });
  }
  return { refusal: null, action: decision, changes, states: statesOf(changes) };
}

/** The requester (or an admin) withdraws every target that has not finished and is not being copied. */
export function planCancel(context: DecisionContext, caller: Caller): DecisionPlan {
  const { request } = context;
  if (request.requestedBy !== caller.username && !caller.isAdmin)
    return refused('cancel', {
      kind: 'forbidden',
      message: `only ${request.requestedBy}, who asked for it, can cancel this request`,
      roleHelps: false,
    });
  const open = context.targets.filter((t) => ['AWAITING_APPROVAL', 'QUEUED', 'FAILED'].includes(t.state));
  if (open.length === 0)
    return refused('cancel', { kind: 'conflict', message: 'nothing in this request can be canceled any more' });
  const message = `canceled by ${caller.username}`;
  const changes: TargetChange[] = open.map((t) => ({
    targetId: t.id,
    environment: t.environment,
    before: t.state,
    state: 'CANCELED',
    reason: message,
    blockedBy: [{ kind: 'decision', by: caller.username, comment: '', message }],
    decision: null,
  }));
  return { refusal: null, action: 'cancel', changes, states: statesOf(changes) };
}
