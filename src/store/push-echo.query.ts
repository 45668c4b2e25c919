/**
 * What hoist already knows about a digest in one registry, to recognise a push event that brings nothing new (most
 * often hoist's own promotion coming back as an event): every environment of every application in the registry, with
 * where that application's artifact of the digest is located, under which tag, since when, and whether the tag is
 * among the tags the artifact was seen with, and whether a promotion brought it there lately. One statement.
 */
import { sql, type Kysely } from 'kysely';
import type { Schema } from './schema.ts';

export interface DigestHolding {
  environmentId: string;
  kind: 'repository' | 'tag';
  repositoryTemplate: string;
  tagTemplate: string | null;
  app: string;
  /** The application's artifact with the digest, when it has one. */
  artifactId: string | null;
  /** Where that artifact is in this environment: its tag and since when (null: not located here). */
  locationTag: string | null;
  since: Date | null;
  /** Whether the artifact was seen with the tag asked about. */
  tagKnown: boolean;
  /** Whether a promotion brought the artifact here (PROMOTED) since `recentSince`. */
  promotedRecently: boolean;
}

export async function holdingsOfDigest(
  db: Kysely<Schema>,
  registryId: string,
  digest: string,
  tag: string | undefined,
  recentSince: Date,
): Promise<DigestHolding[]> {
  const rows = await db
    .selectFrom('environments as e')
    .innerJoin('applications as a', 'a.project_id', 'e.project_id')
    .leftJoin('artifacts as x', (j) => j.onRef('x.application_id', '=', 'a.id').on('x.digest', '=', digest))
    .leftJoin('artifact_locations as l', (j) =>
      j.onRef('l.artifact_id', '=', 'x.id').onRef('l.environment_id', '=', 'e.id'),
    )
    .select([
      'e.id as environmentId',
      'e.kind',
      'e.repository_template as repositoryTemplate',
      'e.tag_template as tagTemplate',
      'a.name as app',
      'x.id as artifactId',
      'l.tag as locationTag',
      'l.since',
      sql<boolean>`${tag ?? null}::text IS NOT NULL AND EXISTS (
        SELECT 1 FROM artifact_tags g WHERE g.artifact_id = x.id AND g.tag = ${tag ?? null})`.as('tagKnown'),
      sql<boolean>`EXISTS (
        SELECT 1 FROM promotion_targets t JOIN promotion_requests r ON r.id = t.request_id
        WHERE r.artifact_id = x.id AND t.environment_id = e.id AND t.state = 'PROMOTED'
          AND t.updated_at >= ${recentSince})`.as('promotedRecently'),
    ])
    .where('e.registry_id', '=', registryId)
    .execute();
  return rows.map((r) => ({
    ...r,
    since: r.since === null ? null : new Date(r.since),
    tagKnown: Boolean(r.tagKnown),
    promotedRecently: Boolean(r.promotedRecently),
  }));
}

/**
 * Whether an artifact with this digest lives in this repository of the registry: then a referrer written there
 * changes what that artifact's referrers say, and its event must be worked (src/events/referrer-writes.ts).
 */
export async function artifactInRepository(
  db: Kysely<Schema>,
  registryId: string,
  repository: string,
  digest: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('artifacts')
    .select('id')
    .where('registry_id', '=', registryId)
    .where('repository', '=', repository)
    .where('digest', '=', digest)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
