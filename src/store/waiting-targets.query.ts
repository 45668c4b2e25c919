/**
 * The targets a policy change concerns, locked for the change's transaction: those not started yet
 * (AWAITING_APPROVAL or QUEUED) that were planned under the policy, or that enter an application × environment the
 * policy is applied to. Their requests are locked first, in id order (as decisions lock them), then everything a
 * re-evaluation plan needs is read in one query: the artifact, both environments, approvals, the policy in force now.
 */
import { sql, type Transaction } from 'kysely';
import type { WaitingReleaseTarget, WaitingTarget } from '../promotion/plan-reevaluation.ts';
import {
  ARTIFACT_JSON,
  DECIDERS_JSON,
  POLICY_JSON,
  artifactFacts,
  deciderFacts,
  policyFacts,
} from './promotion-context.query.ts';
import type { Schema } from './schema.ts';

export type WaitingFilter =
  | { policyName: string }
  | { combinations: ReadonlyArray<{ applicationId: string; environmentId: string }> }
  /** The targets waiting on these artifacts (their verdict changed). */
  | { artifactIds: readonly string[] };

interface WaitingRow {
  id: string;
  request_id: string;
  project: string;
  application: string;
  state: 'AWAITING_APPROVAL' | 'QUEUED';
  policy_name: string | null;
  policy_version: number | null;
  approvals_needed: number;
  requested_by: string;
  request_tag: string | null;
  from_env: unknown;
  to_env: unknown;
  artifact: unknown;
  approved_by: string[] | string;
  decided_by: string[] | string;
  policy_now: unknown;
  deciders: unknown;
}

const parsed = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

const ENV_JSON = (alias: string) =>
  sql.raw(`json_build_object('id', ${alias}.id, 'name', ${alias}.name, 'position', ${alias}.position,
    'protected', ${alias}.protected, 'soakSeconds', ${alias}.soak_seconds, 'windows', ${alias}.windows)`);

const withTag = <A extends { tag: string | null }>(a: A, tag: string | null): A => ({ ...a, tag: tag ?? a.tag });

export async function lockWaitingTargets(trx: Transaction<Schema>, filter: WaitingFilter): Promise<WaitingTarget[]> {
  let which;
  if ('policyName' in filter) {
    which = sql`t.policy_name = ${filter.policyName}`;
  } else if ('artifactIds' in filter) {
    if (filter.artifactIds.length === 0) return [];
    which = sql`r.artifact_id IN (${sql.join(filter.artifactIds)})`;
  } else {
    if (filter.combinations.length === 0) return [];
    which = sql.join(
      filter.combinations.map(
        (c) => sql`(r.application_id = ${c.applicationId} AND t.environment_id = ${c.environmentId})`,
      ),
      sql` OR `,
    );
  }
  const locked = await sql<{ id: string }>`
    SELECT t.id FROM promotion_targets t JOIN promotion_requests r ON r.id = t.request_id
    WHERE t.state IN ('AWAITING_APPROVAL', 'QUEUED') AND (${which})
      -- A release's targets were decided on every application's policy, not re-planned on one (migration 0021).
      AND r.release_id IS NULL
    ORDER BY r.id, t.id
    FOR UPDATE OF r, t`.execute(trx);
  if (locked.rows.length === 0) return [];
  const ids = locked.rows.map((r) => r.id);
  const { rows } = await sql<WaitingRow>`
    SELECT t.id, t.request_id, p.name AS project, a.name AS application, t.state, t.policy_name, t.policy_version,
      t.approvals_needed,
      r.requested_by, r.tag AS request_tag, ${ENV_JSON('s')} AS from_env, ${ENV_JSON('e')} AS to_env,
      (SELECT ${ARTIFACT_JSON} FROM artifacts x WHERE x.id = r.artifact_id) AS artifact,
      (SELECT coalesce(json_agg(d.username), '[]') FROM promotion_decisions d
        WHERE d.target_id = t.id AND d.decision = 'approve') AS approved_by,
      (SELECT coalesce(json_agg(d.username), '[]') FROM promotion_decisions d WHERE d.target_id = t.id) AS decided_by,
      (SELECT ${POLICY_JSON} FROM policy_bindings b JOIN policies po ON po.id = b.policy_id
        JOIN policy_versions v ON v.policy_id = po.id AND v.version = po.current_version
        WHERE b.application_id = r.application_id AND b.environment_id = t.environment_id) AS policy_now,
      ${DECIDERS_JSON} AS deciders
    FROM promotion_targets t
    JOIN promotion_requests r ON r.id = t.request_id
    JOIN projects p ON p.id = r.project_id
    JOIN applications a ON a.id = r.application_id
    JOIN environments e ON e.id = t.environment_id
    JOIN environments s ON s.id = r.source_env_id
    WHERE t.id IN (${sql.join(ids)}) AND t.state IN ('AWAITING_APPROVAL', 'QUEUED')
    ORDER BY r.id, e.position`.execute(trx);
  return rows.map((r) => {
    const from = parsed<WaitingTarget['from'] & { windows: unknown }>(r.from_env);
    const to = parsed<WaitingTarget['to'] & { windows: unknown }>(r.to_env);
    return {
      id: r.id,
      requestId: r.request_id,
      project: r.project,
      application: r.application,
      from: { ...from, windows: parsed(from.windows) ?? [] },
      to: { ...to, windows: parsed(to.windows) ?? [] },
      state: r.state,
      policyName: r.policy_name,
      policyVersion: r.policy_version,
      approvalsNeeded: r.approvals_needed,
      approvedBy: parsed(r.approved_by),
      decidedBy: parsed(r.decided_by),
      requestedBy: r.requested_by,
      // Judged on the request's tag, as when it was made (src/promotion/plan.ts).
      artifact: withTag(artifactFacts(r.artifact) as NonNullable<ReturnType<typeof artifactFacts>>, r.request_tag),
      policyNow: r.policy_now === null ? null : policyFacts(r.policy_now),
      deciders: deciderFacts(r.deciders),
    };
  });
}

/**
 * The release targets not started yet that a change concerns, locked like the others: a release whose target was
 * decided under the policy, or one of whose applications (or images) the change is about. With the applications it
 * concerns, for the message (src/promotion/plan-reevaluation.ts, `planReleaseReevaluation`).
 */
export async function lockWaitingReleaseTargets(
  trx: Transaction<Schema>,
  filter: WaitingFilter,
): Promise<WaitingReleaseTarget[]> {
  let item;
  if ('policyName' in filter) {
    item = sql`EXISTS (SELECT 1 FROM release_target_policies rp
      WHERE rp.target_id = t.id AND rp.application_id = ri.application_id AND rp.policy_name = ${filter.policyName})`;
  } else if ('artifactIds' in filter) {
    if (filter.artifactIds.length === 0) return [];
    item = sql`ri.artifact_id IN (${sql.join(filter.artifactIds)})`;
  } else {
    if (filter.combinations.length === 0) return [];
    item = sql.join(
      filter.combinations.map(
        (c) => sql`(ri.application_id = ${c.applicationId} AND t.environment_id = ${c.environmentId})`,
      ),
      sql` OR `,
    );
  }
  const { rows } = await sql<{
    id: string;
    request_id: string;
    project: string;
    release: string;
    applications: string[] | string;
    environment: string;
    state: 'AWAITING_APPROVAL' | 'QUEUED';
    policy_name: string | null;
    policy_version: number | null;
    approvals_needed: number;
  }>`
    SELECT t.id, t.request_id, p.name AS project, rel.name AS release, e.name AS environment, t.state,
      t.policy_name, t.policy_version, t.approvals_needed,
      (SELECT coalesce(json_agg(a.name ORDER BY a.name), '[]') FROM release_request_items ri
        JOIN applications a ON a.id = ri.application_id WHERE ri.request_id = r.id AND (${item})) AS applications
    FROM promotion_targets t
    JOIN promotion_requests r ON r.id = t.request_id
    JOIN releases rel ON rel.id = r.release_id
    JOIN projects p ON p.id = r.project_id
    JOIN environments e ON e.id = t.environment_id
    WHERE t.state IN ('AWAITING_APPROVAL', 'QUEUED')
      AND EXISTS (SELECT 1 FROM release_request_items ri WHERE ri.request_id = r.id AND (${item}))
    ORDER BY r.id, t.id
    FOR UPDATE OF r, t`.execute(trx);
  return rows.map((r) => ({
    id: r.id,
    requestId: r.request_id,
    project: r.project,
    release: r.release,
    applications: typeof r.applications === 'string' ? (JSON.parse(r.applications) as string[]) : r.applications,
    environment: r.environment,
    state: r.state,
    policyName: r.policy_name,
    policyVersion: r.policy_version,
    approvalsNeeded: r.approvals_needed,
  }));
}

/** Writes a re-evaluation: each target's new state, policy version, approvals needed, verdict and blockers. */
export async function applyReevaluation(
  trx: Transaction<Schema>,
  changes: ReadonlyArray<{
    targetId: string;
    before: string;
    state: Schema['promotion_targets']['state'];
    policy: { name: string; version: number } | null;
    approvalsNeeded: number;
    reason: string | null;
    blockedBy: string;
    verdict: string;
    variables: string;
  }>,
  at: Date,
): Promise<void> {
  for (const c of changes)
    await trx
      .updateTable('promotion_targets')
      .set({
        state: c.state,
        // A stale target keeps the policy version it was requested under (what its approvals were given for).
        ...(c.state === 'STALE'
          ? {}
          : {
              policy_name: c.policy?.name ?? null,
              policy_version: c.policy?.version ?? null,
              approvals_needed: c.approvalsNeeded,
            }),
        reason: c.reason,
        blocked_by: c.blockedBy,
        verdict: c.verdict,
        variables: c.variables,
        updated_at: at,
      })
      .where('id', '=', c.targetId)
      .where('state', '=', c.before as Schema['promotion_targets']['state'])
      .execute();
}
