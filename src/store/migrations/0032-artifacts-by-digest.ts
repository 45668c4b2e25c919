/**
 * Artifacts by digest: a referrer's event refreshes every artifact with its subject's digest (any application, any
 * repository), and before attaching its attestation the attestor asks whether an artifact of the promoted digest lives
 * in the target repository (src/events/referrer-writes.ts). Both looked at every artifact without this index.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX artifacts_digest ON artifacts (digest)`.execute(db);
}
