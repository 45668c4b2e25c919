/** The first schema: accounts, the registry/project/environment/pipeline model, and the audit log. */
import { sql, type Kysely } from 'kysely';

// One statement per entry: the embedded database runs one statement per query.
const STATEMENTS = [
  `CREATE TABLE users (
    id text PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    is_admin boolean NOT NULL DEFAULT false,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE api_tokens (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    UNIQUE (user_id, name)
  )`,
  `CREATE TABLE sessions (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
  )`,
  `CREATE TABLE login_failures (
    key text PRIMARY KEY,
    failures integer NOT NULL,
    window_start timestamptz NOT NULL
  )`,
  `CREATE TABLE registries (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    url text NOT NULL,
    insecure boolean NOT NULL DEFAULT false,
    username text,
    secret_enc text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE projects (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE applications (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
  )`,
  `CREATE TABLE environments (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    position integer NOT NULL,
    kind text NOT NULL CHECK (kind IN ('repository', 'tag')),
    registry_id text NOT NULL REFERENCES registries(id),
    repository_template text NOT NULL,
    tag_template text,
    immutable_tags boolean NOT NULL DEFAULT false,
    allow_tag_move boolean NOT NULL DEFAULT true,
    protected boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
  )`,
  `CREATE TABLE pipeline_edges (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    from_env_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    to_env_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (from_env_id, to_env_id),
    CHECK (from_env_id <> to_env_id)
  )`,
  `CREATE TABLE memberships (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'promoter', 'developer', 'viewer')),
    environments jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, user_id, role)
  )`,
  `CREATE TABLE audit_log (
    seq bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    object_type text NOT NULL,
    object_id text NOT NULL,
    summary jsonb NOT NULL,
    request_id text,
    prev_hash text NOT NULL,
    hash text NOT NULL UNIQUE
  )`,
  `CREATE INDEX audit_log_object ON audit_log (object_type, object_id)`,
  `CREATE INDEX audit_log_actor ON audit_log (actor)`,
  `CREATE INDEX audit_log_at ON audit_log (at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
