/**
 * Retrying a request's FAILED targets: which environments a retry concerns (for the permission check), the request
 * and its targets as the retry plan reads them (after `lockRequest`, in the same transaction), and the fenced
 * re-queue: a target changes only if it is still FAILED with the fencing token that was read, so two retries at
 * once re-queue it once.
 */
import type { Kysely, Transaction } from 'kysely';
import { Conflict } from '../errors.ts';
import type { Blocker } from '../promotion/blocked-by.ts';
import type { RequestTarget, RetriedRequest } from '../promotion/plan-retry.ts';
import { storableVariables } from '../promotion/variables.ts';
import { targetsInContext } from './promotion-targets.query.ts';
import { blockersJson } from './promotions.repository.ts';
import type { Schema } from './schema.ts';

/**
 * The environments a retry of the whole request may touch: its FAILED targets and those not finished yet (which may
 * be FAILED by the time the retry holds the request's lock); [] when the request is not in the project.
 */
export async function retryableEnvironments(db: Kysely<Schema>, project: string, requestId: string): Promise<string[]> {
  const rows = await targetsInContext(db)
    .select('e.name')
    .where('p.name', '=', project)
    .where('r.id', '=', requestId)
    .where('t.state', 'in', ['FAILED', 'AWAITING_APPROVAL', 'QUEUED', 'PROMOTING'])
    .orderBy('e.position')
    .execute();
  return rows.map((r) => r.name);
}

/** The request, its application and every target with its decisions; undefined when there is no such request. */
export async function loadRetry(
  trx: Transaction<Schema>,
  requestId: string,
): Promise<{ request: RetriedRequest; application: string; project: string; targets: RequestTarget[] } | undefined> {
  const rows = await targetsInContext(trx)
    .select([
      't.id',
      'e.name as environment',
      't.state',
      't.lease_token as token',
      't.window_override as windowOverride',
      't.reason',
      'r.id as requestId',
      'r.digest',
      's.name as from',
      'r.tag',
      'r.requested_by as requestedBy',
      'a.name as application',
      'p.name as project',
    ])
    .where('r.id', '=', requestId)
    .orderBy('e.position')
    .execute();
  const first = rows[0];
  if (!first) return undefined;
  const decisions = await trx
    .selectFrom('promotion_decisions')
    .select(['target_id', 'username', 'decision'])
    .where(
      'target_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('at')
    .execute();
  const of = (id: string) => decisions.filter((d) => d.target_id === id);
  return {
    request: {
      id: first.requestId,
      digest: first.digest,
      from: first.from,
      tag: first.tag,
      requestedBy: first.requestedBy,
    },
    application: first.application,
    project: first.project,
    targets: rows.map((r) => ({
      id: r.id,
      environment: r.environment,
      state: r.state,
      token: Number(r.token),
      windowOverride: r.windowOverride,
      approvedBy: of(r.id)
        .filter((d) => d.decision === 'approve')
        .map((d) => d.username),
      decidedBy: of(r.id).map((d) => d.username),
      reason: r.reason,
    })),
  };
}

export interface Requeue {
  targetId: string;
  token: number;
  state: 'QUEUED' | 'AWAITING_APPROVAL';
  policy: { name: string; version: number } | null;
  approvalsNeeded: number;
  verdict: unknown;
  variables: Record<string, unknown>;
  blockedBy: Blocker[];
}

/**
 * FAILED → QUEUED (or AWAITING_APPROVAL) with the new plan's verdict, its attempts and run of failures reset; fenced
 * on (id, FAILED, token). A target that is no longer so was retried by someone else: Conflict, and the caller's
 * transaction rolls back.
 */
export async function requeueFailed(trx: Transaction<Schema>, changes: readonly Requeue[], at: Date): Promise<void> {
  for (const c of changes) {
    const r = await trx
      .updateTable('promotion_targets')
      .set({
        state: c.state,
        policy_name: c.policy?.name ?? null,
        policy_version: c.policy?.version ?? null,
        approvals_needed: c.approvalsNeeded,
        verdict: JSON.stringify(c.verdict),
        variables: storableVariables(c.variables),
        blocked_by: blockersJson(c.blockedBy),
        reason: null,
        attempts: 0,
        failing_since: null,
        run_after: null,
        lease_until: null,
        updated_at: at,
      })
      .where('id', '=', c.targetId)
      .where('state', '=', 'FAILED')
      .where('lease_token', '=', c.token)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1)
      throw new Conflict('the target is no longer FAILED: it was retried at the same time by someone else');
  }
}
