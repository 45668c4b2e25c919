/**
 * Releases: a named set of (application, digest) pairs of one project, promoted together (all or none).
 *
 * A release's promotion is an ordinary promotion request (its targets are the leased queue's jobs, decided and
 * approved like any other), marked with `release_id`; its `application_id`/`digest` are those of the release's first
 * application, and `release_request_items` holds every application's digest and source tag as the request saw them.
 * `release_target_policies` keeps, per target and application, the policy version it was planned under (separation
 * of duties is checked against each). `release_target_phases` is the runner's durable progress on a target: written,
 * fenced by the claim's token, once every image is copied, so a worker that takes the target over after a crash
 * goes straight to writing the tags.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE releases (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    comment text NOT NULL DEFAULT '',
    source_env_id text REFERENCES environments(id) ON DELETE SET NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (project_id, name)
  )`,
  `CREATE INDEX releases_project_created ON releases (project_id, created_at, id)`,
  `CREATE TABLE release_items (
    release_id text NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    artifact_id text NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    digest text NOT NULL,
    PRIMARY KEY (release_id, application_id)
  )`,
  `ALTER TABLE promotion_requests ADD COLUMN release_id text REFERENCES releases(id) ON DELETE CASCADE`,
  `CREATE INDEX promotion_requests_release ON promotion_requests (release_id) WHERE release_id IS NOT NULL`,
  `CREATE TABLE release_request_items (
    request_id text NOT NULL REFERENCES promotion_requests(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    artifact_id text NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    digest text NOT NULL,
    source_tag text,
    PRIMARY KEY (request_id, application_id)
  )`,
  `CREATE INDEX release_request_items_digest ON release_request_items (digest)`,
  `CREATE TABLE release_target_policies (
    target_id text NOT NULL REFERENCES promotion_targets(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    policy_name text NOT NULL,
    policy_version integer NOT NULL,
    PRIMARY KEY (target_id, application_id)
  )`,
  `CREATE TABLE release_target_phases (
    target_id text PRIMARY KEY REFERENCES promotion_targets(id) ON DELETE CASCADE,
    phase text NOT NULL,
    lease_token integer NOT NULL,
    at timestamptz NOT NULL
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
