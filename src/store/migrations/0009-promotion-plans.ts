/**
 * Promotion plans: each target keeps why it waits or was refused as structured data (`blocked_by`, the plan's
 * `blockedBy` list), and a promotion request sent with an `Idempotency-Key` is remembered per caller, so a request
 * re-sent after a time-out answers the first request instead of making a second.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `ALTER TABLE promotion_targets ADD COLUMN blocked_by jsonb`,
  `CREATE TABLE idempotency_keys (
    username text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    -- Claimed before the request is written (that serializes a re-sent request): checked at commit.
    request_id text NOT NULL REFERENCES promotion_requests(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (username, key)
  )`,
  `CREATE INDEX promotion_targets_request ON promotion_targets (request_id)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
