/**
 * GitOps write-back: an environment may have a Git target (a repository, branch, path and what to update there, with
 * its credential sealed like a registry's), and every promotion into such an environment adds a write-back job to
 * `gitops_writes` in the transaction that records it PROMOTED (the outbox pattern: committed together, or not at
 * all). The jobs are worked by the one leased queue (lease, fencing token, `failing_since` for time-bounded retries);
 * `commit_sha` and `branch` say what was pushed.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE environment_git_targets (
    environment_id text PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
    url text NOT NULL,
    branch text NOT NULL,
    path text NOT NULL,
    edit text NOT NULL CHECK (edit IN ('kustomize', 'helm', 'manifests')),
    key text,
    image text,
    new_name text,
    mode text NOT NULL CHECK (mode IN ('push', 'branch')),
    username text,
    secret_enc text,
    known_hosts text,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL
  )`,
  `CREATE TABLE gitops_writes (
    id text PRIMARY KEY,
    target_id text NOT NULL REFERENCES promotion_targets(id) ON DELETE CASCADE,
    environment_id text NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    state text NOT NULL CHECK (state IN ('PENDING', 'PUSHING', 'DONE', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    run_after timestamptz NOT NULL,
    lease_until timestamptz,
    lease_token integer NOT NULL DEFAULT 0,
    failing_since timestamptz,
    last_error text,
    commit_sha text,
    branch text,
    created_at timestamptz NOT NULL,
    done_at timestamptz
  )`,
  `CREATE UNIQUE INDEX gitops_writes_target ON gitops_writes (target_id)`,
  `CREATE INDEX gitops_writes_due ON gitops_writes (state, run_after)`,
  `CREATE INDEX gitops_writes_environment ON gitops_writes (environment_id, created_at, id)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
