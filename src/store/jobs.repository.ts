/**
 * The SQL of the one leased job queue, for every table that holds jobs (promotion targets, notification deliveries,
 * push events). A claim is one statement (for one job or a batch): the oldest due job (waiting and due, or working with a lapsed lease) is
 * locked with `FOR UPDATE SKIP LOCKED` (so replicas never wait on each other's claims), moved to the working state,
 * given a lease, its attempt counted and its fencing token (`lease_token`) incremented. Every later change of the job
 * names (id, working state, token) and must change exactly one row: a worker whose lease was taken over affects
 * nothing, and learns so (LeaseLost).
 */
import { sql, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { Schema } from './schema.ts';

export type JobTable =
  'promotion_targets' | 'notification_deliveries' | 'push_events' | 'gitops_writes' | 'attestation_jobs';

/** How one table keeps its jobs: the state names and the column that orders them and holds the last error. */
export interface JobTableSpec<T extends JobTable = JobTable> {
  table: T;
  /** The state of a job waiting to be claimed. */
  waiting: Schema[T]['state'];
  /** The state of a claimed job. */
  working: Schema[T]['state'];
  /** First come, first served by this column. */
  orderBy: 'updated_at' | 'run_after' | 'received_at';
  /** Where the last failure's message goes. */
  message: 'reason' | 'last_error' | 'outcome';
  /**
   * The column that records when the job's current run of failures began, for queues that retry for a time rather
   * than a number of attempts (`failing_since`); absent: not recorded.
   */
  failingSince?: 'failing_since';
  /** The table's own columns that a claim answers with the job (`Claim.row`), read in the claim's statement. */
  returning?: readonly string[];
}

/** A claimed job: which row, the fencing token of this claim, and the attempts made including this one. */
export interface Claim {
  id: string;
  token: number;
  attempts: number;
  /** When its current run of failures began (tables with `failingSince`); undefined when it has not failed. */
  failingSince?: Date;
  /** The columns the table's spec names in `returning`, as the claim read them. */
  row?: Record<string, unknown>;
}

/** A job's lease was taken over (it lapsed and another worker claimed the job) or the job left the working state. */
export class LeaseLost extends Error {
  constructor(table: string, id: string) {
    super(`${table} ${id}: the lease was lost (another worker has claimed it, or it was settled)`);
    this.name = 'LeaseLost';
  }
}

type Db = Kysely<Schema> | Transaction<Schema>;
// The three tables share the queue columns; the few places that write a table's own columns go through this.
type AnyTable = Kysely<Record<string, Record<string, unknown>>>;

export async function claimJob(db: Db, spec: JobTableSpec, now: Date, leaseMs: number): Promise<Claim | undefined> {
  return (await claimJobs(db, spec, now, leaseMs, 1))[0];
}

/**
 * Claims up to `limit` due jobs in one statement, oldest first, each with its own lease and fencing token, exactly as
 * `claimJob` claims one: a burst of work costs one round trip per batch, not one per job.
 */
export async function claimJobs(
  db: Db,
  spec: JobTableSpec,
  now: Date,
  leaseMs: number,
  limit: number,
): Promise<Claim[]> {
  const table = sql.table(spec.table);
  const since = spec.failingSince ? sql`, j.${sql.ref(spec.failingSince)} AS failing_since` : sql``;
  const own = spec.returning ?? [];
  const columns = own.length > 0 ? sql`, ${sql.join(own.map((c) => sql`j.${sql.ref(c)}`))}` : sql``;
  const r = await sql<
    { id: string; lease_token: number; attempts: number; failing_since?: Date | string | null } & Record<
      string,
      unknown
    >
  >`
    WITH picked AS (
      SELECT id FROM ${table}
      WHERE (state = ${spec.waiting} AND (run_after IS NULL OR run_after <= ${now}))
         OR (state = ${spec.working} AND lease_until < ${now})
      ORDER BY ${sql.ref(spec.orderBy)} LIMIT ${Math.max(1, Math.floor(limit))} FOR UPDATE SKIP LOCKED)
    UPDATE ${table} AS j SET state = ${spec.working}, lease_until = ${new Date(now.getTime() + leaseMs)},
      lease_token = j.lease_token + 1, attempts = j.attempts + 1
    FROM picked WHERE j.id = picked.id
    RETURNING j.id, j.lease_token, j.attempts${since}${columns}`.execute(db);
  return r.rows.map((row) => {
    const claim: Claim = { id: row.id, token: Number(row.lease_token), attempts: Number(row.attempts) };
    if (row.failing_since) claim.failingSince = new Date(row.failing_since);
    if (own.length > 0) claim.row = Object.fromEntries(own.map((c) => [c, row[c]]));
    return claim;
  });
}

/** Extends a lease the claim still holds; answers false when it does not (taken over, or settled). */
export async function renewLease(db: Db, spec: JobTableSpec, job: Claim, until: Date): Promise<boolean> {
  const r = await sql`UPDATE ${sql.table(spec.table)} SET lease_until = ${until}
    WHERE id = ${job.id} AND state = ${spec.working} AND lease_token = ${job.token}`.execute(db);
  return Number(r.numAffectedRows ?? 0n) === 1;
}

/**
 * Changes a claimed job (its state and the table's own columns) if and only if the claim still holds it; the lease
 * ends with it. Throws LeaseLost otherwise, so the caller's transaction (audit, outbox) rolls back with it.
 */
export async function settleJob<T extends JobTable>(
  db: Db,
  spec: JobTableSpec<T>,
  job: Claim,
  values: Updateable<Schema[T]>,
): Promise<void> {
  const r = await (db as unknown as AnyTable)
    .updateTable(spec.table as string)
    .set({ ...(values as Record<string, unknown>), lease_until: null })
    .where('id', '=', job.id)
    .where('state', '=', spec.working)
    .where('lease_token', '=', job.token)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw new LeaseLost(spec.table, job.id);
}

/**
 * Puts a claimed job back to wait until `runAfter`, with why (and the table's own columns in `values`), fenced like
 * settleJob; `countAttempt: false` gives the attempt back (a job released at shutdown, or held for a window). A
 * counted attempt is a failure: where the table records it, the run of failures begins now unless it began earlier.
 */
export async function requeueJob<T extends JobTable>(
  db: Db,
  spec: JobTableSpec<T>,
  job: Claim,
  o: { runAfter: Date; message: string | null; countAttempt: boolean; values?: Updateable<Schema[T]> },
): Promise<void> {
  const r = await (db as unknown as AnyTable)
    .updateTable(spec.table as string)
    .set((eb) => ({
      ...(o.values as Record<string, unknown> | undefined),
      state: spec.waiting,
      lease_until: null,
      run_after: o.runAfter,
      [spec.message]: o.message,
      attempts: o.countAttempt ? eb.ref('attempts') : sql<number>`attempts - 1`,
      ...(o.countAttempt && spec.failingSince
        ? { [spec.failingSince]: sql`coalesce(${sql.ref(spec.failingSince)}, ${new Date()})` }
        : {}),
    }))
    .where('id', '=', job.id)
    .where('state', '=', spec.working)
    .where('lease_token', '=', job.token)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw new LeaseLost(spec.table, job.id);
}

export const NOTIFICATION_JOBS: JobTableSpec<'notification_deliveries'> = {
  table: 'notification_deliveries',
  waiting: 'PENDING',
  working: 'SENDING',
  orderBy: 'run_after',
  message: 'last_error',
};

export const PUSH_EVENT_JOBS: JobTableSpec<'push_events'> = {
  table: 'push_events',
  waiting: 'PENDING',
  working: 'WORKING',
  orderBy: 'received_at',
  message: 'outcome',
  // What the intake works from: the claim answers it, no second read of the event.
  returning: ['registry_id', 'repository', 'tag', 'digest', 'received_at'],
};

export interface QueueStats {
  /** Jobs waiting (due or not) and being worked on. */
  waiting: number;
  working: number;
  /** Seconds since the oldest waiting job became due (0 when none is due). */
  oldestDueSeconds: number;
  /** When the next job becomes claimable: the earliest due time of a waiting job or end of a working job's lease. */
  nextDue: Date | null;
}

export async function queueStats(db: Db, spec: JobTableSpec, now: Date): Promise<QueueStats> {
  const table = sql.table(spec.table);
  const r = await sql<{ waiting: string; working: string; oldest: Date | null; next_due: Date | null }>`
    SELECT
      count(*) FILTER (WHERE state = ${spec.waiting}) AS waiting,
      count(*) FILTER (WHERE state = ${spec.working}) AS working,
      min(coalesce(run_after, ${sql.ref(spec.orderBy)})) FILTER (
        WHERE state = ${spec.waiting} AND (run_after IS NULL OR run_after <= ${now})) AS oldest,
      least(
        min(coalesce(run_after, ${now})) FILTER (WHERE state = ${spec.waiting}),
        min(lease_until) FILTER (WHERE state = ${spec.working})) AS next_due
    FROM ${table} WHERE state IN (${spec.waiting}, ${spec.working})`.execute(db);
  const row = r.rows[0];
  const oldest = row?.oldest ? new Date(row.oldest) : null;
  return {
    waiting: Number(row?.waiting ?? 0),
    working: Number(row?.working ?? 0),
    oldestDueSeconds: oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0,
    nextDue: row?.next_due ? new Date(row.next_due) : null,
  };
}
