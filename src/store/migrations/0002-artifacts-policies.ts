/** Artifacts (what CI built, as hoist read it from the registry) and where they are; versioned policies and where they apply. */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE artifacts (
    id text PRIMARY KEY,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    digest text NOT NULL,
    registry_id text NOT NULL REFERENCES registries(id),
    repository text NOT NULL,
    tag text,
    media_type text NOT NULL,
    size bigint NOT NULL,
    labels jsonb NOT NULL,
    annotations jsonb NOT NULL,
    created timestamptz,
    platforms jsonb NOT NULL,
    referrers jsonb NOT NULL,
    build jsonb NOT NULL,
    registered_by text NOT NULL,
    registered_at timestamptz NOT NULL,
    UNIQUE (application_id, digest)
  )`,
  `CREATE TABLE artifact_locations (
    artifact_id text NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    environment_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    tag text,
    since timestamptz NOT NULL,
    PRIMARY KEY (artifact_id, environment_id)
  )`,
  `CREATE TABLE policies (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    current_version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
  )`,
  `CREATE TABLE policy_versions (
    policy_id text NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    version integer NOT NULL,
    description text NOT NULL,
    pass_conditions jsonb NOT NULL,
    fail_conditions jsonb NOT NULL,
    approver_count integer NOT NULL CHECK (approver_count BETWEEN 0 AND 6),
    allow_requester_from_approve boolean NOT NULL,
    allow_image_builder_from_approve boolean NOT NULL,
    allow_approver_from_deploy boolean NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (policy_id, version)
  )`,
  `CREATE TABLE policy_bindings (
    policy_id text NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    environment_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    PRIMARY KEY (application_id, environment_id)
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
