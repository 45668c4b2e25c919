/**
 * Automation: registry push events in (per-registry hook secrets, seen event ids for dedupe, an intake queue),
 * auto-promotion rules and what they fired, track-latest / pin bindings, soak time and promotion windows per
 * environment, quarantined digests, watched repositories for the poller, and a per-target tag chosen by a rule.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE hook_secrets (
    registry_id text NOT NULL REFERENCES registries(id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('distribution', 'harbor', 'generic')),
    secret_hash text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (registry_id, kind)
  )`,
  `CREATE INDEX hook_secrets_hash ON hook_secrets (secret_hash)`,
  `CREATE TABLE push_events (
    id text PRIMARY KEY,
    registry_id text NOT NULL REFERENCES registries(id) ON DELETE CASCADE,
    source text NOT NULL,
    repository text NOT NULL,
    tag text,
    digest text NOT NULL,
    state text NOT NULL CHECK (state IN ('PENDING', 'WORKING', 'DONE', 'IGNORED', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    lease_until timestamptz,
    run_after timestamptz NOT NULL,
    outcome text,
    received_at timestamptz NOT NULL,
    done_at timestamptz
  )`,
  `CREATE INDEX push_events_due ON push_events (state, run_after)`,
  `CREATE TABLE rules (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    application_id text REFERENCES applications(id) ON DELETE CASCADE,
    source_env_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    target_env_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    criteria jsonb NOT NULL,
    expression text NOT NULL,
    tag_template text,
    mode text NOT NULL CHECK (mode IN ('promote', 'request')),
    enabled boolean NOT NULL DEFAULT true,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (project_id, name)
  )`,
  `CREATE TABLE automation_firings (
    key text PRIMARY KEY,
    artifact_id text NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    request_id text,
    at timestamptz NOT NULL
  )`,
  `CREATE TABLE bindings (
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    environment_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    mode text NOT NULL CHECK (mode IN ('track-latest', 'pin')),
    pinned_digest text,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (application_id, environment_id)
  )`,
  `ALTER TABLE environments ADD COLUMN soak_seconds integer NOT NULL DEFAULT 0`,
  `ALTER TABLE environments ADD COLUMN windows jsonb`,
  `CREATE TABLE quarantine (
    digest text PRIMARY KEY,
    reason text NOT NULL,
    by_user text NOT NULL,
    at timestamptz NOT NULL
  )`,
  `CREATE TABLE watches (
    id text PRIMARY KEY,
    registry_id text NOT NULL REFERENCES registries(id) ON DELETE CASCADE,
    repository text NOT NULL,
    interval_seconds integer NOT NULL,
    tags jsonb NOT NULL,
    last_checked_at timestamptz,
    last_result jsonb,
    next_check_at timestamptz NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (registry_id, repository)
  )`,
  `ALTER TABLE registries ADD COLUMN poll_budget integer NOT NULL DEFAULT 10`,
  `ALTER TABLE promotion_targets ADD COLUMN tag text`,
  `ALTER TABLE promotion_targets ADD COLUMN window_override boolean NOT NULL DEFAULT false`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
