/**
 * Signed promotion attestations (issue 12 §2). `signing_keys` lists every key hoist signed attestations with: the
 * current one (retired_at null; at most one) and the retired ones, kept so that what they signed can still be
 * checked. A key held in the database (PostgreSQL replicas without a shared key file) has its private half sealed
 * with the SecretBox; a key from a file has only its public half here. `promotion_attestations` keeps, per promotion
 * target, the exact bytes pushed (manifest and envelopes), so a retry or another replica pushes the same referrer
 * again instead of signing a second one.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE signing_keys (
    key_id text PRIMARY KEY,
    algorithm text NOT NULL,
    public_key text NOT NULL,
    private_key_sealed text,
    source text NOT NULL,
    created_at timestamptz NOT NULL,
    retired_at timestamptz
  )`,
  `CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL`,
  `CREATE TABLE promotion_attestations (
    target_id text PRIMARY KEY REFERENCES promotion_targets(id) ON DELETE CASCADE,
    key_id text NOT NULL,
    manifest_digest text NOT NULL,
    statement_digest text NOT NULL,
    content jsonb NOT NULL,
    created_at timestamptz NOT NULL
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
