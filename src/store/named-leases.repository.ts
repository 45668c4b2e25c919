/**
 * Named leases: periodic work that N replicas share (the soak tick, the poller of one registry) is done by whoever
 * holds its lease, so it runs once in total. A lease is one row (`named_leases`, migration 0010): its holder, a
 * fencing token and an expiry. It is claimed with one conditional upsert — it is free, lapsed, or already ours — and
 * the token goes up whenever it changes hands, so a holder that stalled past its lease (a paused process) and then
 * resumes finds its token stale: every write made under a lease names (name, holder, token) and changes nothing
 * otherwise. The row also keeps a cursor, how far the work got (the soak tick's "since"), so a replica that takes over
 * continues where the last holder stopped.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Schema } from './schema.ts';

type Db = Kysely<Schema> | Transaction<Schema>;

/** A worker's name as a lease holder: unique per instance (host, process, random), readable in the table. */
export function workerName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** A lease as claimed: write under it only through the functions below (or `holdsLease`), which check the token. */
export interface NamedLease {
  name: string;
  holder: string;
  token: number;
  until: Date;
  /** Where the work got to, as the last holder left it (null: never run). */
  cursor: Date | null;
}

/**
 * Takes the lease `name` for `holder` until `now + leaseMs` when it is free, lapsed, or the holder's already (then it
 * is extended and keeps its token). Answers undefined while another holder's lease runs.
 */
export async function claimNamedLease(
  db: Db,
  name: string,
  holder: string,
  now: Date,
  leaseMs: number,
): Promise<NamedLease | undefined> {
  const until = new Date(now.getTime() + leaseMs);
  const r = await sql<{ token: number; lease_until: Date; cursor: Date | null }>`
    INSERT INTO named_leases (name, holder, token, lease_until) VALUES (${name}, ${holder}, 1, ${until})
    ON CONFLICT (name) DO UPDATE SET
      token = CASE WHEN named_leases.holder = excluded.holder THEN named_leases.token ELSE named_leases.token + 1 END,
      holder = excluded.holder,
      lease_until = excluded.lease_until
    WHERE named_leases.holder = excluded.holder OR named_leases.lease_until < ${now}
    RETURNING token, lease_until, cursor`.execute(db);
  const row = r.rows[0];
  return (
    row && {
      name,
      holder,
      token: Number(row.token),
      until: new Date(row.lease_until),
      cursor: row.cursor === null ? null : new Date(row.cursor),
    }
  );
}

/** Extends a lease still held with this token; answers false when it changed hands. */
export async function renewNamedLease(db: Db, lease: NamedLease, until: Date): Promise<boolean> {
  const r = await db
    .updateTable('named_leases')
    .set({ lease_until: until })
    .where('name', '=', lease.name)
    .where('holder', '=', lease.holder)
    .where('token', '=', lease.token)
    .executeTakeFirst();
  const held = Number(r.numUpdatedRows) === 1;
  if (held) lease.until = until;
  return held;
}

/** Moves the cursor forward (never back) if the lease is still held with this token; answers whether it was. */
export async function advanceLeaseCursor(db: Db, lease: NamedLease, cursor: Date): Promise<boolean> {
  const r = await db
    .updateTable('named_leases')
    .set({ cursor: sql<Date>`greatest(coalesce(cursor, ${cursor}), ${cursor})` })
    .where('name', '=', lease.name)
    .where('holder', '=', lease.holder)
    .where('token', '=', lease.token)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Gives the lease up at once (another replica may claim it now); nothing happens when it changed hands already. */
export async function releaseNamedLease(db: Db, lease: NamedLease): Promise<void> {
  await db
    .updateTable('named_leases')
    .set({ lease_until: new Date(0) })
    .where('name', '=', lease.name)
    .where('holder', '=', lease.holder)
    .where('token', '=', lease.token)
    .execute();
}

/** A condition for a raw-SQL write made under a lease: true only while the lease is held with this token. */
export function leaseStillHeld(lease: NamedLease) {
  return sql<boolean>`EXISTS (SELECT 1 FROM named_leases WHERE name = ${lease.name} AND holder = ${lease.holder} AND token = ${lease.token})`;
}
