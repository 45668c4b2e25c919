/**
 * Tags remembered. An artifact has every tag it has been seen with (CI builds under a scratch tag and tags the same
 * digest as a release later), not only the first; and a promotion request keeps the tag it named, so that history
 * shows it on targets that were refused or went stale before any tag was written.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE artifact_tags (
    artifact_id text NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    tag text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (artifact_id, tag)
  )`.execute(db);
  await sql`INSERT INTO artifact_tags (artifact_id, tag, first_seen, last_seen)
    SELECT id, tag, registered_at, registered_at FROM artifacts WHERE tag IS NOT NULL
    ON CONFLICT DO NOTHING`.execute(db);
  await sql`INSERT INTO artifact_tags (artifact_id, tag, first_seen, last_seen)
    SELECT artifact_id, tag, min(since), max(since) FROM artifact_locations WHERE tag IS NOT NULL
    GROUP BY artifact_id, tag
    ON CONFLICT DO NOTHING`.execute(db);
  await sql`ALTER TABLE promotion_requests ADD COLUMN tag text`.execute(db);
}
