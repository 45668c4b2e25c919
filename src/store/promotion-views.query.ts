/**
 * Reads of promotion requests for the API: requests with their targets and decisions in a constant number of
 * queries however many rows a page has (requests, then all their targets, then all their decisions), history of
 * finished targets, and the deploy gate's look-up.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import { waitingFor } from './pending-approvals.query.ts';
import { targetsInContext } from './promotion-targets.query.ts';
import { gitopsWritesOf, type GitopsWriteRow } from './gitops.repository.ts';
import type { Schema, TargetState } from './schema.ts';
import { decodeCursor, olderThan, pageOf, pageSize } from './time-cursor.ts';

export interface RequestRow {
  id: string;
  project: string;
  application: string;
  digest: string;
  tag: string | null;
  from: string;
  requested_by: string;
  comment: string;
  created_at: Date;
}

export type TargetRow = Selectable<Schema['promotion_targets']> & { environment: string; position: number };
export type DecisionRow = Selectable<Schema['promotion_decisions']>;

export interface RequestRows {
  requests: RequestRow[];
  targets: TargetRow[];
  decisions: DecisionRow[];
  /** The GitOps write-backs of the targets that have one. */
  gitops?: GitopsWriteRow[];
  /** The cursor of the next page (./time-cursor.ts), null on the last. */
  nextCursor: string | null;
}

export interface RequestFilter {
  id?: string;
  state?: TargetState;
  environment?: string;
  limit?: number;
  /** The nextCursor of the previous page. */
  cursor?: string;
  /** Only requests with a target this user may approve now (./pending-approvals.query.ts). */
  pendingFor?: string;
}

/**
 * Requests of a project, newest first (one when `id` is given), with their targets and decisions: three queries.
 * A page of `limit` (default 100, at most 1000); `cursor` continues after the previous page.
 */
export async function findRequests(db: Kysely<Schema>, project: string, f: RequestFilter = {}): Promise<RequestRows> {
  const limit = pageSize(f.limit);
  let q = db
    .selectFrom('promotion_requests as r')
    .innerJoin('projects as p', 'p.id', 'r.project_id')
    .innerJoin('applications as a', 'a.id', 'r.application_id')
    .innerJoin('environments as s', 's.id', 'r.source_env_id')
    .select([
      'r.id',
      'p.name as project',
      'a.name as application',
      'r.digest',
      'r.tag',
      's.name as from',
      'r.requested_by',
      'r.comment',
      'r.created_at',
    ])
    // The project's id as a scalar subquery, not a join condition: then the newest page is read from the
    // (project_id, created_at, id) index in order, instead of sorting the project's whole history.
    .where('r.project_id', '=', (eb) => eb.selectFrom('projects').select('id').where('name', '=', project))
    .orderBy('r.created_at', 'desc')
    .orderBy('r.id', 'desc')
    .limit(limit + 1);
  if (f.cursor !== undefined) q = q.where(olderThan('r.created_at', 'r.id', decodeCursor(f.cursor)));
  if (f.id !== undefined) q = q.where('r.id', '=', f.id);
  if (f.pendingFor !== undefined) q = q.where(waitingFor(f.pendingFor));
  if (f.state !== undefined || f.environment !== undefined) {
    q = q.where(({ exists, selectFrom }) => {
      let sub = selectFrom('promotion_targets as t')
        .innerJoin('environments as e', 'e.id', 't.environment_id')
        .select('t.id')
        .whereRef('t.request_id', '=', 'r.id');
      if (f.state !== undefined) sub = sub.where('t.state', '=', f.state);
      if (f.environment !== undefined) sub = sub.where('e.name', '=', f.environment);
      return exists(sub);
    });
  }
  const { items: requests, nextCursor } = pageOf(await q.execute(), limit, (r) => ({ at: r.created_at, id: r.id }));
  if (requests.length === 0) return { requests, targets: [], decisions: [], nextCursor };
  const targets = await db
    .selectFrom('promotion_targets as t')
    .innerJoin('environments as e', 'e.id', 't.environment_id')
    .selectAll('t')
    .select(['e.name as environment', 'e.position as position'])
    .where(
      't.request_id',
      'in',
      requests.map((r) => r.id),
    )
    .orderBy('e.position')
    .execute();
  const decisions = await decisionsOf(
    db,
    targets.map((t) => t.id),
  );
  const gitops = await gitopsWritesOf(
    db,
    targets.map((t) => t.id),
  );
  return { requests, targets, decisions, gitops, nextCursor };
}

export async function decisionsOf(db: Kysely<Schema>, targetIds: readonly string[]): Promise<DecisionRow[]> {
  if (targetIds.length === 0) return [];
  return db.selectFrom('promotion_decisions').selectAll().where('target_id', 'in', targetIds).orderBy('at').execute();
}

export interface HistoryFilter {
  app?: string;
  env?: string;
  digest?: string;
  user?: string;
  /** One finished state (PROMOTED, REJECTED, FAILED, CANCELED, STALE). */
  state?: TargetState;
  since?: Date;
  /** Before this instant (since ≤ at < until). */
  until?: Date;
  limit?: number;
  /** The nextCursor of the previous page. */
  cursor?: string;
}

/** Finished targets of a project (promoted, rejected, failed, canceled, stale), newest first, a page at a time. */
export async function findHistory(db: Kysely<Schema>, project: string, f: HistoryFilter = {}) {
  const limit = pageSize(f.limit);
  const { items: rows, nextCursor } = pageOf(await historyQuery(db, project, f).execute(), limit, (r) => ({
    at: r.at,
    id: r.id,
  }));
  return {
    rows,
    nextCursor,
    decisions: await decisionsOf(
      db,
      rows.map((r) => r.id),
    ),
  };
}

/** The query of one history page (a row more than the page, to know whether another follows); bench:scale explains it. */
export function historyQuery(db: Kysely<Schema>, project: string, f: HistoryFilter = {}) {
  const limit = pageSize(f.limit);
  let q = targetsInContext(db)
    .select([
      't.id',
      'r.id as requestId',
      't.updated_at as at',
      'r.requested_by as requestedBy',
      'a.name as application',
      's.name as from',
      'e.name as to',
      'r.digest',
      'r.comment',
      't.state',
      't.policy_name',
      't.policy_version',
      't.verdict',
      't.result',
      't.reason',
      't.tag as chosenTag',
      'r.tag as requestedTag',
      'e.kind as targetKind',
      'e.tag_template as targetTemplate',
    ])
    .where('p.name', '=', project)
    .where('t.state', 'in', ['PROMOTED', 'REJECTED', 'FAILED', 'CANCELED', 'STALE'])
    .orderBy('t.updated_at', 'desc')
    .orderBy('t.id', 'desc')
    .limit(limit + 1);
  if (f.cursor !== undefined) q = q.where(olderThan('t.updated_at', 't.id', decodeCursor(f.cursor)));
  // A release's request names its first application and digest; its other ones are in release_request_items.
  if (f.app !== undefined)
    q = q.where(
      sql<boolean>`(a.name = ${f.app} OR (r.release_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM release_request_items ri JOIN applications ra ON ra.id = ri.application_id
        WHERE ri.request_id = r.id AND ra.name = ${f.app})))`,
    );
  // The environment's id as a scalar subquery: the (environment_id, updated_at, id) index is then read in order.
  if (f.env !== undefined)
    q = q.where('t.environment_id', '=', (eb) =>
      eb
        .selectFrom('environments as fe')
        .innerJoin('projects as fp', 'fp.id', 'fe.project_id')
        .select('fe.id')
        .where('fp.name', '=', project)
        .where('fe.name', '=', f.env as string),
    );
  // Both digest indexes: the requests' own and the release items'.
  if (f.digest !== undefined)
    q = q.where(
      sql<boolean>`r.id IN (SELECT id FROM promotion_requests WHERE digest = ${f.digest}
        UNION SELECT request_id FROM release_request_items WHERE digest = ${f.digest})`,
    );
  if (f.user !== undefined) q = q.where('r.requested_by', '=', f.user);
  if (f.state !== undefined) q = q.where('t.state', '=', f.state);
  if (f.since !== undefined) q = q.where('t.updated_at', '>=', f.since);
  if (f.until !== undefined) q = q.where('t.updated_at', '<', f.until);
  return q;
}

/** The latest PROMOTED target of a digest in an environment, whether `deployer` approved it, and its policy flag. */
export async function latestPromotion(
  db: Kysely<Schema>,
  project: string,
  environment: string,
  digest: string,
  deployer: string | undefined,
) {
  return (
    db
      .selectFrom('promotion_targets as t')
      .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
      .innerJoin('projects as p', 'p.id', 'r.project_id')
      .innerJoin('environments as e', 'e.id', 't.environment_id')
      .leftJoin('policies as po', 'po.name', 't.policy_name')
      .leftJoin('policy_versions as v', (j) =>
        j.onRef('v.policy_id', '=', 'po.id').onRef('v.version', '=', 't.policy_version'),
      )
      .select((eb) => [
        't.id',
        'r.id as requestId',
        't.updated_at',
        'v.allow_approver_from_deploy as allowApproverFromDeploy',
        eb
          .exists(
            eb
              .selectFrom('promotion_decisions as d')
              .select('d.username')
              .whereRef('d.target_id', '=', 't.id')
              .where('d.decision', '=', 'approve')
              .where('d.username', '=', deployer ?? ''),
          )
          .as('approvedByDeployer'),
      ])
      .where('p.name', '=', project)
      .where('e.name', '=', environment)
      // A release's request carries every application's digest in release_request_items (its own is the first's).
      .where((eb) =>
        eb.or([
          eb('r.digest', '=', digest),
          eb.exists(
            eb
              .selectFrom('release_request_items as ri')
              .select('ri.digest')
              .whereRef('ri.request_id', '=', 'r.id')
              .where('ri.digest', '=', digest),
          ),
        ]),
      )
      .where('t.state', '=', 'PROMOTED')
      .orderBy('t.updated_at', 'desc')
      .limit(1)
      .executeTakeFirst()
  );
}

/** An audit entry of one promotion request, as its timeline reads it (src/promotion/timeline.ts). */
export interface RequestAuditRow {
  at: Date;
  actor: string;
  action: string;
  summary: unknown;
}

/**
 * The audit entries of one request, oldest first (the `(object_type, object_id)` index): what happened to it, when
 * and by whom. Entries not sealed into the chain yet are read too; their content is what the chain will hold.
 */
export async function auditOfRequest(db: Kysely<Schema>, requestId: string): Promise<RequestAuditRow[]> {
  return db
    .selectFrom('audit_log')
    .select(['at', 'actor', 'action', 'summary'])
    .where('object_type', '=', 'promotion')
    .where('object_id', '=', requestId)
    .orderBy('seq')
    .execute();
}
