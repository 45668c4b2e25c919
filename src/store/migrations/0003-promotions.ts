/** Promotion requests, their per-environment targets (each with its own state and verdict) and the decisions on them. */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE promotion_requests (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    artifact_id text NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    digest text NOT NULL,
    source_env_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    requested_by text NOT NULL,
    comment text NOT NULL,
    created_at timestamptz NOT NULL
  )`,
  `CREATE TABLE promotion_targets (
    id text PRIMARY KEY,
    request_id text NOT NULL REFERENCES promotion_requests(id) ON DELETE CASCADE,
    environment_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    state text NOT NULL CHECK (state IN ('AWAITING_APPROVAL', 'QUEUED', 'PROMOTING', 'PROMOTED', 'REJECTED', 'CANCELED', 'STALE', 'FAILED')),
    policy_name text,
    policy_version integer,
    approvals_needed integer NOT NULL,
    verdict jsonb NOT NULL,
    variables jsonb NOT NULL,
    reason text,
    updated_at timestamptz NOT NULL,
    UNIQUE (request_id, environment_id)
  )`,
  `CREATE INDEX promotion_targets_state ON promotion_targets (state)`,
  `CREATE TABLE promotion_decisions (
    target_id text NOT NULL REFERENCES promotion_targets(id) ON DELETE CASCADE,
    username text NOT NULL,
    decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment text NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (target_id, username)
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
