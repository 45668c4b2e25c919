/** A policy may let an environment be entered from any earlier stage, skipping those between (a hotfix to prod). */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE policy_versions ADD COLUMN allow_skip_stages boolean NOT NULL DEFAULT false`.execute(db);
}
