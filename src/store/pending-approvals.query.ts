/**
 * "Waiting for me": promotion requests with a target in AWAITING_APPROVAL that this person may still approve, with
 * the same rules the decision applies (src/promotion/approvers.ts): a promoter or owner of the request's project
 * whose role covers the target's environment (an enabled account), not barred by separation of duties (the requester
 * and the image's builder, unless the target's policy version allows them), and who has not decided on it yet. The
 * condition is one SQL expression over the request (alias `r`), used as a list filter and for the /me badge count;
 * the decision itself is still checked in full when it is made.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Schema } from './schema.ts';

/**
 * Whether request `r` has a target `username` may approve now. Written as `r.id IN (…)` over the targets awaiting
 * approval (found by their state's index; the member's project is the target environment's, so the planner starts
 * from those targets and never from the project's whole history), not as a per-request EXISTS: the set is computed once, so the badge and
 * the filtered list cost the same with 1,000 or 100,000 promotions in the history (bench:scale).
 */
export function waitingFor(username: string): RawBuilder<boolean> {
  return sql<boolean>`r.id IN (
    SELECT t.request_id FROM promotion_targets t
    JOIN environments e ON e.id = t.environment_id
    JOIN users u ON u.username = ${username} AND NOT u.disabled
    JOIN memberships m ON m.project_id = e.project_id AND m.user_id = u.id AND m.role IN ('promoter', 'owner')
    JOIN promotion_requests wr ON wr.id = t.request_id
    JOIN artifacts x ON x.id = wr.artifact_id
    LEFT JOIN policies po ON po.name = t.policy_name
    LEFT JOIN policy_versions v ON v.policy_id = po.id AND v.version = t.policy_version
    WHERE t.state = 'AWAITING_APPROVAL'
      AND (m.environments IS NULL OR jsonb_typeof(m.environments) = 'null'
        OR m.environments @> jsonb_build_array(e.name))
      AND NOT EXISTS (SELECT 1 FROM promotion_decisions d WHERE d.target_id = t.id AND d.username = u.username)
      AND (wr.requested_by <> u.username OR coalesce(v.allow_requester_from_approve, false))
      AND (coalesce(x.build ->> 'builder', '') <> u.username OR coalesce(v.allow_image_builder_from_approve, false))
  )`;
}

/** How many requests, in every project, have a target waiting for this person's approval (the badge). */
export async function countWaitingFor(db: Kysely<Schema>, username: string): Promise<number> {
  const row = await db
    .selectFrom('promotion_requests as r')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where(waitingFor(username))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
