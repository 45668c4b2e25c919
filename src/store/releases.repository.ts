/**
 * Releases in the store: the named sets of (application, digest) pairs (made once, never changed), the applications
 * a release's promotion request carries and the policy versions its targets were planned under, and the runner's
 * fenced progress on a release target (every image copied; then the tags). Every function takes the handle it runs
 * in; those that write take the caller's transaction.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { PolicyFacts } from '../promotion/context.ts';
import type { Claim } from './jobs.repository.ts';
import { grantedTo } from './namespaces.repository.ts';
import { POLICY_JSON, policyFacts } from './promotion-context.query.ts';
import type { Schema } from './schema.ts';
import { decodeCursor, olderThan, pageOf, pageSize } from './time-cursor.ts';

type Db = Kysely<Schema> | Transaction<Schema>;

export interface ReleaseItemRow {
  applicationId: string;
  application: string;
  artifactId: string;
  digest: string;
}

export interface ReleaseRow {
  id: string;
  name: string;
  project: string;
  projectId: string;
  comment: string;
  from: string | null;
  createdBy: string;
  createdAt: Date;
  items: ReleaseItemRow[];
}

const parsed = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/** The artifacts of a project's applications named by digest (one row per pair found). */
export async function artifactsByDigest(
  db: Db,
  projectId: string,
  pairs: ReadonlyArray<{ application: string; digest: string }>,
): Promise<ReleaseItemRow[]> {
  if (pairs.length === 0) return [];
  return db
    .selectFrom('artifacts as x')
    .innerJoin('applications as a', 'a.id', 'x.application_id')
    .select(['a.id as applicationId', 'a.name as application', 'x.id as artifactId', 'x.digest'])
    .where('a.project_id', '=', projectId)
    .where((eb) => eb.or(pairs.map((p) => eb.and([eb('a.name', '=', p.application), eb('x.digest', '=', p.digest)]))))
    .execute();
}

/** What an environment of the project holds now, one artifact per application (src/store/board.query.ts reads the same). */
export async function heldIn(db: Db, projectId: string, environment: string): Promise<ReleaseItemRow[]> {
  return db
    .selectFrom('environment_holdings as h')
    .innerJoin('environments as e', 'e.id', 'h.environment_id')
    .innerJoin('applications as a', 'a.id', 'h.application_id')
    .innerJoin('artifacts as x', 'x.id', 'h.artifact_id')
    .select(['a.id as applicationId', 'a.name as application', 'x.id as artifactId', 'x.digest'])
    .where('e.project_id', '=', projectId)
    .where('e.name', '=', environment)
    .orderBy('a.name')
    .execute();
}

/** Inserts a release and its items; false when the project has a release of that name already. */
export async function insertRelease(
  trx: Transaction<Schema>,
  r: {
    id: string;
    projectId: string;
    name: string;
    comment: string;
    sourceEnvId: string | null;
    createdBy: string;
    at: Date;
    items: readonly ReleaseItemRow[];
  },
): Promise<boolean> {
  const made = await trx
    .insertInto('releases')
    .values({
      id: r.id,
      project_id: r.projectId,
      name: r.name,
      comment: r.comment,
      source_env_id: r.sourceEnvId,
      created_by: r.createdBy,
      created_at: r.at,
    })
    .onConflict((oc) => oc.columns(['project_id', 'name']).doNothing())
    .executeTakeFirst();
  if (Number(made.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
  await trx
    .insertInto('release_items')
    .values(
      r.items.map((i) => ({
        release_id: r.id,
        application_id: i.applicationId,
        artifact_id: i.artifactId,
        digest: i.digest,
      })),
    )
    .execute();
  return true;
}

/** A project's releases, newest first (one when `name` is given), with their items: one query. */
export async function findReleases(
  db: Db,
  project: string,
  f: { name?: string; limit?: number; cursor?: string } = {},
): Promise<{ items: ReleaseRow[]; nextCursor: string | null }> {
  const limit = pageSize(f.limit);
  let q = db
    .selectFrom('releases as r')
    .innerJoin('projects as p', 'p.id', 'r.project_id')
    .leftJoin('environments as s', 's.id', 'r.source_env_id')
    .select([
      'r.id',
      'r.name',
      'p.name as project',
      'p.id as projectId',
      'r.comment',
      's.name as from',
      'r.created_by as createdBy',
      'r.created_at as createdAt',
      sql<unknown>`(SELECT coalesce(json_agg(json_build_object('applicationId', a.id, 'application', a.name,
        'artifactId', i.artifact_id, 'digest', i.digest) ORDER BY a.name), '[]')
        FROM release_items i JOIN applications a ON a.id = i.application_id WHERE i.release_id = r.id)`.as('items'),
    ])
    .where('p.name', '=', project)
    .orderBy('r.created_at', 'desc')
    .orderBy('r.id', 'desc')
    .limit(limit + 1);
  if (f.name !== undefined) q = q.where('r.name', '=', f.name);
  if (f.cursor !== undefined) q = q.where(olderThan('r.created_at', 'r.id', decodeCursor(f.cursor)));
  const rows = (await q.execute()).map((r) => ({ ...r, items: parsed<ReleaseItemRow[]>(r.items) }));
  return pageOf(rows, limit, (r) => ({ at: r.createdAt, id: r.id }));
}

/** The promotion requests of a release, newest first, with each target's environment and state. */
export async function requestsOfRelease(db: Db, releaseId: string) {
  const rows = await db
    .selectFrom('promotion_requests as r')
    .innerJoin('environments as s', 's.id', 'r.source_env_id')
    .select([
      'r.id',
      's.name as from',
      'r.requested_by as requestedBy',
      'r.created_at as createdAt',
      sql<unknown>`(SELECT coalesce(json_agg(json_build_object('environment', e.name, 'state', t.state)
        ORDER BY e.position), '[]')
        FROM promotion_targets t JOIN environments e ON e.id = t.environment_id WHERE t.request_id = r.id)`.as(
        'targets',
      ),
    ])
    .where('r.release_id', '=', releaseId)
    .orderBy('r.created_at', 'desc')
    .limit(100)
    .execute();
  return rows.map((r) => ({ ...r, targets: parsed<Array<{ environment: string; state: string }>>(r.targets) }));
}

/** What a release's promotion request adds to an ordinary one: its applications and its targets' policies. */
export async function insertReleaseRequest(
  trx: Transaction<Schema>,
  o: {
    requestId: string;
    releaseId: string;
    items: ReadonlyArray<ReleaseItemRow & { sourceTag: string | null }>;
    policies: ReadonlyArray<{ targetId: string; applicationId: string; name: string; version: number }>;
  },
): Promise<void> {
  await trx.updateTable('promotion_requests').set({ release_id: o.releaseId }).where('id', '=', o.requestId).execute();
  await trx
    .insertInto('release_request_items')
    .values(
      o.items.map((i) => ({
        request_id: o.requestId,
        application_id: i.applicationId,
        artifact_id: i.artifactId,
        digest: i.digest,
        source_tag: i.sourceTag,
      })),
    )
    .execute();
  if (o.policies.length > 0)
    await trx
      .insertInto('release_target_policies')
      .values(
        o.policies.map((p) => ({
          target_id: p.targetId,
          application_id: p.applicationId,
          policy_name: p.name,
          policy_version: p.version,
        })),
      )
      .execute();
}

export interface RequestRelease {
  name: string;
  applications: Array<{ application: string; digest: string; tag: string | null }>;
}

/** The release each of these requests promotes (requests of no release are absent): one query. */
export async function releasesOfRequests(db: Db, requestIds: readonly string[]): Promise<Map<string, RequestRelease>> {
  if (requestIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('promotion_requests as r')
    .innerJoin('releases as rel', 'rel.id', 'r.release_id')
    .select([
      'r.id',
      'rel.name',
      sql<unknown>`(SELECT coalesce(json_agg(json_build_object('application', a.name, 'digest', i.digest,
        'tag', i.source_tag) ORDER BY a.name), '[]')
        FROM release_request_items i JOIN applications a ON a.id = i.application_id WHERE i.request_id = r.id)`.as(
        'applications',
      ),
    ])
    .where('r.id', 'in', [...new Set(requestIds)])
    .execute();
  return new Map(rows.map((r) => [r.id, { name: r.name, applications: parsed(r.applications) }]));
}

/**
 * For decisions on a release's request: each application's image builder and the policy version each target was
 * planned under for it. Undefined when the request promotes no release.
 */
export async function releaseDecisionFacts(
  db: Db,
  requestId: string,
): Promise<
  Array<{ application: string; builder: string | undefined; policies: Record<string, PolicyFacts> }> | undefined
> {
  const { rows } = await sql<{ application: string; build: unknown; policies: unknown }>`
    SELECT a.name AS application, x.build,
      (SELECT coalesce(json_agg(json_build_object('target', tp.target_id, 'policy', ${POLICY_JSON})), '[]')
        FROM release_target_policies tp
        JOIN promotion_targets t ON t.id = tp.target_id AND t.request_id = i.request_id
        JOIN policies po ON po.name = tp.policy_name
        JOIN policy_versions v ON v.policy_id = po.id AND v.version = tp.policy_version
        WHERE tp.application_id = i.application_id) AS policies
    FROM release_request_items i
    JOIN applications a ON a.id = i.application_id
    JOIN artifacts x ON x.id = i.artifact_id
    WHERE i.request_id = ${requestId}
    ORDER BY a.name`.execute(db);
  if (rows.length === 0) return undefined;
  return rows.map((r) => ({
    application: r.application,
    builder: parsed<{ builder?: string }>(r.build).builder,
    policies: Object.fromEntries(
      parsed<Array<{ target: string; policy: unknown }>>(r.policies).map((p) => [p.target, policyFacts(p.policy)]),
    ),
  }));
}

export interface ReleaseJobItem extends ReleaseItemRow {
  sourceTag: string | null;
  srcGranted: boolean;
  dstGranted: boolean;
}

/** The applications a claimed release target copies, with whether the project owns both repositories of each. */
export async function releaseJobItems(db: Db, targetId: string): Promise<ReleaseJobItem[]> {
  return db
    .selectFrom('promotion_targets as t')
    .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
    .innerJoin('release_request_items as i', 'i.request_id', 'r.id')
    .innerJoin('applications as a', 'a.id', 'i.application_id')
    .innerJoin('environments as s', 's.id', 'r.source_env_id')
    .innerJoin('environments as e', 'e.id', 't.environment_id')
    .select([
      'a.id as applicationId',
      'a.name as application',
      'i.artifact_id as artifactId',
      'i.digest',
      'i.source_tag as sourceTag',
      grantedTo(
        sql.ref('r.project_id'),
        sql.ref('s.registry_id'),
        sql`replace(s.repository_template, '{app}', a.name)`,
      ).as('srcGranted'),
      grantedTo(
        sql.ref('r.project_id'),
        sql.ref('e.registry_id'),
        sql`replace(e.repository_template, '{app}', a.name)`,
      ).as('dstGranted'),
    ])
    .where('t.id', '=', targetId)
    .orderBy('a.name')
    .execute();
}

/** Whether every image of this release target was copied (by any claim of it). */
export async function isCopied(db: Db, targetId: string): Promise<boolean> {
  const row = await db
    .selectFrom('release_target_phases')
    .select('phase')
    .where('target_id', '=', targetId)
    .executeTakeFirst();
  return row?.phase === 'COPIED';
}

/** Records that every image is copied, only while this claim holds the target; answers whether it did. */
export async function recordCopied(db: Db, job: Claim, at: Date): Promise<boolean> {
  const r = await sql`INSERT INTO release_target_phases (target_id, phase, lease_token, at)
    SELECT id, 'COPIED', lease_token, ${at} FROM promotion_targets
    WHERE id = ${job.id} AND state = 'PROMOTING' AND lease_token = ${job.token}
    ON CONFLICT (target_id) DO UPDATE SET lease_token = EXCLUDED.lease_token, at = EXCLUDED.at`.execute(db);
  return Number(r.numAffectedRows ?? 0n) > 0;
}

/**
 * The newest PROMOTED target of `environment` that put `applicationId` there under `tag`, for a request made after
 * `requestedAt` (a single artifact's, or a release's that carried the application): writing the tag now would move
 * the environment back to an older image.
 */
export async function newerPromotionOf(
  db: Db,
  o: { applicationId: string; environmentId: string; tag: string; requestedAt: Date },
): Promise<{ requestId: string; digest: string } | undefined> {
  const { rows } = await sql<{ requestId: string; digest: string }>`
    SELECT r.id AS "requestId", coalesce(i.digest, r.digest) AS digest
    FROM promotion_targets t JOIN promotion_requests r ON r.id = t.request_id
    LEFT JOIN release_request_items i ON i.request_id = r.id AND i.application_id = ${o.applicationId}
    WHERE t.environment_id = ${o.environmentId} AND t.state = 'PROMOTED' AND r.created_at > ${o.requestedAt}
      AND ((r.release_id IS NULL AND r.application_id = ${o.applicationId} AND t.result->>'tag' = ${o.tag})
        OR (i.request_id IS NOT NULL AND t.result->'releaseTags'->>${o.applicationId} = ${o.tag}))
    ORDER BY r.created_at DESC LIMIT 1`.execute(db);
  return rows[0];
}
