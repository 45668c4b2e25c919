/**
 * What the promotion runner reads and writes: a claimed target with everything its copy needs (one query), the
 * quarantine of its digest, whether a newer promotion already wrote the tag it is about to write, and the fenced
 * state changes (promoted, failed, rejected) with the artifact's new location, in the caller's transaction.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Claim, JobTableSpec } from './jobs.repository.ts';
import { settleJob } from './jobs.repository.ts';
import { targetsInContext } from './promotion-targets.query.ts';
import { grantedTo } from './namespaces.repository.ts';
import type { RegistryAccess } from './registries.repository.ts';
import type { Schema } from './schema.ts';

export const PROMOTION_JOBS: JobTableSpec<'promotion_targets'> = {
  table: 'promotion_targets',
  waiting: 'QUEUED',
  working: 'PROMOTING',
  orderBy: 'updated_at',
  message: 'reason',
  failingSince: 'failing_since',
};

export async function loadPromotionJob(db: Kysely<Schema>, id: string) {
  return targetsInContext(db)
    .innerJoin('registries as sreg', 'sreg.id', 's.registry_id')
    .innerJoin('registries as dreg', 'dreg.id', 'e.registry_id')
    .leftJoin('artifact_locations as loc', (j) =>
      j.onRef('loc.artifact_id', '=', 'r.artifact_id').onRef('loc.environment_id', '=', 'r.source_env_id'),
    )
    .select([
      't.id',
      't.attempts',
      'r.id as requestId',
      'r.created_at as requestedAt',
      'r.artifact_id as artifactId',
      'r.application_id as applicationId',
      'r.digest',
      'r.release_id as releaseId',
      'a.name as app',
      'p.name as project',
      's.repository_template as srcRepo',
      'e.repository_template as dstRepo',
      'e.kind as dstKind',
      'e.tag_template as dstTag',
      'e.name as dstName',
      'e.id as dstId',
      'e.immutable_tags as immutable',
      'e.allow_tag_move as allowMove',
      'sreg.name as srcRegistry',
      'dreg.name as dstRegistry',
      'e.registry_id as dstRegistryId',
      // The registries' rows, for their clients (Registries.openRow): not read again per job.
      's.registry_id as srcRegistryId',
      'sreg.url as srcRegistryUrl',
      'sreg.insecure as srcRegistryInsecure',
      'sreg.username as srcRegistryUsername',
      'sreg.secret_enc as srcRegistrySecret',
      'sreg.updated_at as srcRegistryUpdatedAt',
      'dreg.url as dstRegistryUrl',
      'dreg.insecure as dstRegistryInsecure',
      'dreg.username as dstRegistryUsername',
      'dreg.secret_enc as dstRegistrySecret',
      'dreg.updated_at as dstRegistryUpdatedAt',
      // Whether the digest is quarantined (heldBack), in the same statement.
      (eb) =>
        eb
          .selectFrom('quarantine as q')
          .select('q.reason')
          .whereRef('q.digest', '=', 'r.digest')
          .as('quarantineReason'),
      (eb) =>
        eb.selectFrom('quarantine as q').select('q.by_user').whereRef('q.digest', '=', 'r.digest').as('quarantinedBy'),
      // The tag the request named (an event's tag, `--tag`), else the one the source holds it under now.
      sql<string | null>`coalesce(r.tag, loc.tag)`.as('sourceTag'),
      'p.id as projectId',
      's.name as srcName',
      'r.requested_by as requestedBy',
      'r.comment',
      't.tag as chosenTag',
      't.window_override as windowOverride',
      'e.windows as windows',
      'e.soak_seconds as dstSoakSeconds',
      grantedTo(sql.ref('p.id'), sql.ref('s.registry_id'), sql`replace(s.repository_template, '{app}', a.name)`).as(
        'srcGranted',
      ),
      grantedTo(sql.ref('p.id'), sql.ref('e.registry_id'), sql`replace(e.repository_template, '{app}', a.name)`).as(
        'dstGranted',
      ),
    ])
    .where('t.id', '=', id)
    .executeTakeFirstOrThrow();
}

export type PromotionJobRow = Awaited<ReturnType<typeof loadPromotionJob>>;

/** The source's or the target's registry row as the job read it (for Registries.openRow). */
export function jobRegistry(t: PromotionJobRow, side: 'src' | 'dst'): RegistryAccess {
  return side === 'src'
    ? {
        id: t.srcRegistryId,
        name: t.srcRegistry,
        url: t.srcRegistryUrl,
        insecure: t.srcRegistryInsecure,
        username: t.srcRegistryUsername,
        secret_enc: t.srcRegistrySecret,
        updated_at: t.srcRegistryUpdatedAt,
      }
    : {
        id: t.dstRegistryId,
        name: t.dstRegistry,
        url: t.dstRegistryUrl,
        insecure: t.dstRegistryInsecure,
        username: t.dstRegistryUsername,
        secret_enc: t.dstRegistrySecret,
        updated_at: t.dstRegistryUpdatedAt,
      };
}

/** The quarantine of the job's digest, as the job read it (null: not quarantined). */
export function jobQuarantine(t: PromotionJobRow): { reason: string; by_user: string } | null {
  return t.quarantineReason === null || t.quarantinedBy === null
    ? null
    : { reason: t.quarantineReason, by_user: t.quarantinedBy };
}

export async function quarantineOf(db: Kysely<Schema>, digest: string) {
  return db.selectFrom('quarantine').select(['reason', 'by_user']).where('digest', '=', digest).executeTakeFirst();
}

/** What `fenceTagWrite` answers. */
export interface TagWriteFence {
  held: boolean;
  newer: { requestId: string; digest: string } | null;
  webhooks: Array<{ id: string; events: unknown }>;
}

/**
 * Right before a promotion writes its tag, in one statement: the claim renewed until `leaseUntil` (`held`: false when
 * it was taken over or settled), the newest PROMOTED target of the same application and environment that wrote `tag`
 * for a request made after `requestedAt` (when there is one, writing the tag now would move the environment back to
 * an older image), and the project's webhooks for the notice of the transaction that follows.
 */
export async function fenceTagWrite(
  db: Kysely<Schema>,
  job: Claim,
  o: {
    leaseUntil: Date;
    projectId: string;
    applicationId: string;
    environmentId: string;
    tag: string;
    requestedAt: Date;
  },
): Promise<TagWriteFence> {
  const r = await sql<TagWriteFence>`WITH renewed AS (
      UPDATE promotion_targets SET lease_until = ${o.leaseUntil}
      WHERE id = ${job.id} AND state = ${PROMOTION_JOBS.working} AND lease_token = ${job.token}
      RETURNING id)
    SELECT EXISTS (SELECT 1 FROM renewed) AS held,
      (SELECT json_build_object('requestId', r.id, 'digest', r.digest)
        FROM promotion_targets t JOIN promotion_requests r ON r.id = t.request_id
        WHERE t.environment_id = ${o.environmentId} AND r.application_id = ${o.applicationId}
          AND t.state = 'PROMOTED' AND r.created_at > ${o.requestedAt}::timestamptz AND t.result->>'tag' = ${o.tag}
        ORDER BY r.created_at DESC LIMIT 1) AS newer,
      (SELECT coalesce(json_agg(json_build_object('id', w.id, 'events', w.events)), '[]'::json)
        FROM webhooks w WHERE w.project_id = ${o.projectId}) AS webhooks`.execute(db);
  const row = r.rows[0];
  if (!row) throw new Error('the fence statement answered no row');
  return row;
}

/**
 * The target is PROMOTED (fenced by the claim) and the artifact is now in the environment, under `tag` (which the
 * artifact counts among the tags it was seen with).
 */
export async function recordPromoted(
  trx: Transaction<Schema>,
  job: Claim,
  o: { artifactId: string; environmentId: string; tag: string | null; result: unknown; at: Date },
): Promise<void> {
  await recordLocation(trx, o);
  // Last: the state change takes the lock every promotion's transaction waits for (the live events', migration 0018)
  // until commit. A claim that no longer holds rolls all of it back.
  await settleJob(trx, PROMOTION_JOBS, job, {
    state: 'PROMOTED',
    reason: null,
    updated_at: o.at,
    result: JSON.stringify(o.result),
  });
}

/**
 * The artifact is in the environment now, under `tag`, since `at` (its earlier location there is replaced), and has
 * been seen with that tag: one statement (the location's upsert fires the holdings trigger as an update, which it
 * treats as the old row leaving and the new one arriving, as a delete and an insert did).
 */
export async function recordLocation(
  trx: Transaction<Schema>,
  o: { artifactId: string; environmentId: string; tag: string | null; at: Date },
): Promise<void> {
  const placed = sql`INSERT INTO artifact_locations (artifact_id, environment_id, tag, since)
    VALUES (${o.artifactId}, ${o.environmentId}, ${o.tag}, ${o.at})
    ON CONFLICT (artifact_id, environment_id) DO UPDATE SET tag = excluded.tag, since = excluded.since`;
  if (o.tag === null) {
    await placed.execute(trx);
    return;
  }
  // The artifact has been seen with the tag hoist wrote: the push event that reports it back brings nothing new.
  await sql`WITH placed AS (${placed} RETURNING artifact_id)
    INSERT INTO artifact_tags (artifact_id, tag, first_seen, last_seen)
    SELECT artifact_id, ${o.tag}, ${o.at}::timestamptz, ${o.at}::timestamptz FROM placed
    ON CONFLICT (artifact_id, tag) DO UPDATE SET last_seen = excluded.last_seen`.execute(trx);
}

/** The target ends FAILED or REJECTED with the reason (fenced by the claim). */
export async function recordEnded(
  db: Kysely<Schema> | Transaction<Schema>,
  job: Claim,
  state: 'FAILED' | 'REJECTED',
  reason: string,
  at: Date,
): Promise<void> {
  await settleJob(db, PROMOTION_JOBS, job, { state, reason, updated_at: at, run_after: null });
}
