/**
 * Signature verification (issue 12): each project's trust roots (named public keys), and with each artifact the
 * signatures and attestations read from its registry (`signature_evidence`, the exact bytes as base64, so a change
 * of trust roots is judged again without the registry) and the last verdict on them (`trust`: what was checked,
 * against which roots, when). Artifacts registered before this migration have neither until a referrer of theirs
 * arrives or they are read again.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE trust_roots (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name text NOT NULL,
    algorithm text NOT NULL,
    fingerprint text NOT NULL,
    public_key text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (project_id, name)
  )`,
  `ALTER TABLE artifacts ADD COLUMN signature_evidence jsonb`,
  `ALTER TABLE artifacts ADD COLUMN trust jsonb`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
