/**
 * Every tag an artifact has been seen with. CI builds under a scratch tag (`dev-9`) and tags the same digest as a
 * release later (`v9`); the artifact is one row, its tags are many, oldest first. A tag seen again only moves its
 * `last_seen`. (The artifact's own `tag` column keeps the first one, as registered.)
 */
import type { Kysely, Transaction } from 'kysely';
import type { Schema } from './schema.ts';

/** Remembers that the artifact was seen with this tag (again, or for the first time). */
export async function rememberTag(
  db: Kysely<Schema> | Transaction<Schema>,
  artifactId: string,
  tag: string,
  at: Date,
): Promise<void> {
  await db
    .insertInto('artifact_tags')
    .values({ artifact_id: artifactId, tag, first_seen: at, last_seen: at })
    .onConflict((oc) => oc.columns(['artifact_id', 'tag']).doUpdateSet({ last_seen: at }))
    .execute();
}

/** The tags of some artifacts, each list oldest first (an artifact with none is absent from the map). */
export async function tagsOf(db: Kysely<Schema>, artifactIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (artifactIds.length === 0) return out;
  const rows = await db
    .selectFrom('artifact_tags')
    .select(['artifact_id', 'tag'])
    .where('artifact_id', 'in', [...new Set(artifactIds)])
    .orderBy('first_seen')
    .orderBy('tag')
    .execute();
  for (const r of rows) out.set(r.artifact_id, [...(out.get(r.artifact_id) ?? []), r.tag]);
  return out;
}
