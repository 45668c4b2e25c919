/**
 * GitOps write-back as stored: an environment's Git target (one row, its credential sealed), the write-back jobs on
 * the leased queue (enqueued in the transaction that records a target PROMOTED, with a NOTIFY delivered on commit
 * that wakes the workers on every replica), what a job needs to write (one query), the per-environment order of
 * jobs, and each target's write-back status for the API.
 */
import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { JobTableSpec } from './jobs.repository.ts';
import { targetsInContext } from './promotion-targets.query.ts';
import type { Schema } from './schema.ts';

export const GITOPS_JOBS: JobTableSpec<'gitops_writes'> = {
  table: 'gitops_writes',
  waiting: 'PENDING',
  working: 'PUSHING',
  orderBy: 'run_after',
  message: 'last_error',
  failingSince: 'failing_since',
};

/** The channel the leased queue listens on for this table (LeasedQueue's `hoist_queue_<table>`). */
const CHANNEL = `hoist_queue_${GITOPS_JOBS.table}`;

export type GitTargetRow = Selectable<Schema['environment_git_targets']>;

export async function findGitTarget(db: Kysely<Schema>, environmentId: string): Promise<GitTargetRow | undefined> {
  return db
    .selectFrom('environment_git_targets')
    .selectAll()
    .where('environment_id', '=', environmentId)
    .executeTakeFirst();
}

export async function putGitTarget(
  trx: Transaction<Schema>,
  row: Insertable<Schema['environment_git_targets']>,
): Promise<void> {
  const { environment_id: _, ...rest } = row;
  await trx
    .insertInto('environment_git_targets')
    .values(row)
    .onConflict((oc) => oc.column('environment_id').doUpdateSet(rest))
    .execute();
}

export async function deleteGitTarget(trx: Transaction<Schema>, environmentId: string): Promise<void> {
  await trx.deleteFrom('environment_git_targets').where('environment_id', '=', environmentId).execute();
}

/**
 * Adds the write-back job of a target just recorded PROMOTED, in that transaction, when its environment has a Git
 * target (else nothing). Idempotent per target. The NOTIFY is delivered when the transaction commits.
 */
export async function enqueueGitopsWrite(
  trx: Transaction<Schema>,
  o: { id: string; targetId: string; environmentId: string; at: Date },
): Promise<void> {
  const r = await sql`
    INSERT INTO gitops_writes (id, target_id, environment_id, state, run_after, created_at)
    SELECT ${o.id}, ${o.targetId}, ${o.environmentId}, 'PENDING', ${o.at}, ${o.at}
    WHERE EXISTS (SELECT 1 FROM environment_git_targets WHERE environment_id = ${o.environmentId})
    ON CONFLICT (target_id) DO NOTHING`.execute(trx);
  if (Number(r.numAffectedRows ?? 0n) > 0) await sql`SELECT pg_notify(${CHANNEL}, '')`.execute(trx);
}

/** Everything a write-back job needs: the promotion, the environment's location and Git target, the approvers. */
export async function loadGitopsJob(db: Kysely<Schema>, id: string) {
  const job = await db
    .selectFrom('gitops_writes as w')
    .innerJoin('environment_git_targets as g', 'g.environment_id', 'w.environment_id')
    .select([
      'w.id',
      'w.target_id as targetId',
      'w.environment_id as environmentId',
      'w.created_at as createdAt',
      'g.url',
      'g.branch',
      'g.path',
      'g.edit',
      'g.key',
      'g.image',
      'g.new_name as newName',
      'g.mode',
      'g.username',
      'g.secret_enc as secretEnc',
      'g.known_hosts as knownHosts',
    ])
    .where('w.id', '=', id)
    .executeTakeFirst();
  if (!job) return undefined;
  const promotion = await targetsInContext(db)
    .innerJoin('registries as dreg', 'dreg.id', 'e.registry_id')
    .select([
      'r.id as requestId',
      'r.digest',
      'r.requested_by as requestedBy',
      'r.comment',
      'a.name as app',
      'p.name as project',
      's.name as from',
      'e.name as to',
      'e.repository_template as repository',
      'dreg.url as registryUrl',
    ])
    .where('t.id', '=', job.targetId)
    .executeTakeFirstOrThrow();
  const approvers = await db
    .selectFrom('promotion_decisions')
    .select('username')
    .where('target_id', '=', job.targetId)
    .where('decision', '=', 'approve')
    .orderBy('at')
    .execute();
  return { ...job, ...promotion, approvers: approvers.map((a) => a.username) };
}

export type GitopsJobRow = NonNullable<Awaited<ReturnType<typeof loadGitopsJob>>>;

/**
 * The oldest unfinished write-back of the same environment made before this one, if any: jobs of one environment
 * are written in the order their promotions were recorded, so a later digest is never overwritten by an earlier.
 */
export async function earlierUnfinished(
  db: Kysely<Schema>,
  job: { id: string; environmentId: string; createdAt: Date },
): Promise<string | undefined> {
  const r = await db
    .selectFrom('gitops_writes')
    .select('id')
    .where('environment_id', '=', job.environmentId)
    .where('state', 'in', ['PENDING', 'PUSHING'])
    .where((eb) =>
      eb.or([
        eb('created_at', '<', job.createdAt),
        eb.and([eb('created_at', '=', job.createdAt), eb('id', '<', job.id)]),
      ]),
    )
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
  return r?.id;
}

export type GitopsWriteRow = Pick<
  Selectable<Schema['gitops_writes']>,
  'target_id' | 'state' | 'attempts' | 'run_after' | 'last_error' | 'commit_sha' | 'branch' | 'done_at'
>;

/** The write-back status of each of these targets that has one. */
export async function gitopsWritesOf(db: Kysely<Schema>, targetIds: readonly string[]): Promise<GitopsWriteRow[]> {
  if (targetIds.length === 0) return [];
  return db
    .selectFrom('gitops_writes')
    .select(['target_id', 'state', 'attempts', 'run_after', 'last_error', 'commit_sha', 'branch', 'done_at'])
    .where('target_id', 'in', targetIds)
    .execute();
}
