/**
 * Promotion attestations off the critical path (issue 12): a target is PROMOTED once its tags are written, and in
 * that same transaction one `attestation_jobs` row per image it promoted (one for a single promotion, one per
 * application of a release) is queued. The jobs are worked by the one leased queue (lease, fencing token,
 * `failing_since` for time-bounded retries); the exact bytes pushed (manifest and envelopes, `content`) are kept on
 * the row under the job's fencing token before anything is pushed, so a retry or a worker that took a stalled job over
 * pushes the same referrer again. The rows replace `promotion_attestations` (0023, keyed per target, which could not
 * hold a release's several images): its rows are carried over as ATTACHED where their target was PROMOTED.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE attestation_jobs (
    id text PRIMARY KEY,
    target_id text NOT NULL REFERENCES promotion_targets(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    artifact_id text NOT NULL,
    digest text NOT NULL,
    repository text NOT NULL,
    tag text,
    state text NOT NULL CHECK (state IN ('PENDING', 'ATTACHING', 'ATTACHED', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    run_after timestamptz NOT NULL,
    lease_until timestamptz,
    lease_token integer NOT NULL DEFAULT 0,
    failing_since timestamptz,
    last_error text,
    created_at timestamptz NOT NULL,
    attached_at timestamptz,
    key_id text,
    manifest_digest text,
    statement_digest text,
    content jsonb,
    signed_at timestamptz
  )`,
  `CREATE UNIQUE INDEX attestation_jobs_image ON attestation_jobs (target_id, application_id)`,
  `CREATE INDEX attestation_jobs_due ON attestation_jobs (state, run_after)`,
  `CREATE INDEX attestation_jobs_digest ON attestation_jobs (digest)`,
  `INSERT INTO attestation_jobs (id, target_id, application_id, artifact_id, digest, repository, tag, state, attempts,
      run_after, created_at, attached_at, key_id, manifest_digest, statement_digest, content, signed_at)
    SELECT 'att-' || pa.target_id, pa.target_id, r.application_id, r.artifact_id, r.digest,
      replace(e.repository_template, '{app}', a.name), t.result->>'tag', 'ATTACHED', 1,
      pa.created_at, pa.created_at, t.updated_at, pa.key_id, pa.manifest_digest, pa.statement_digest, pa.content,
      pa.created_at
    FROM promotion_attestations pa
    JOIN promotion_targets t ON t.id = pa.target_id
    JOIN promotion_requests r ON r.id = t.request_id
    JOIN applications a ON a.id = r.application_id
    JOIN environments e ON e.id = t.environment_id
    WHERE t.state = 'PROMOTED'`,
  `DROP TABLE promotion_attestations`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
