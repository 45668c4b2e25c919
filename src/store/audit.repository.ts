/**
 * The append-only, hash-chained audit log. Each row stores the hash of the row before it and the SHA-256 of
 * (previous hash, its own canonical content, its sequence number), so editing a row, deleting one or reordering
 * them breaks the chain at a row the verifier can name. Appends take a transaction-scoped lock, so concurrent
 * writers (several replicas) still build one chain; they run inside the caller's transaction, so a change and its
 * audit row commit or roll back together.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { canonicalJson } from './canonical-json.ts';
import type { Schema } from './schema.ts';

export const GENESIS_HASH = '0'.repeat(64);
/** Arbitrary constant naming the audit chain's advisory lock. */
const AUDIT_LOCK = 72_616_001;

export interface AuditEntry {
  actor: string;
  action: string;
  objectType: string;
  objectId: string;
  /** A before/after summary; secrets never go here. */
  summary: Record<string, unknown>;
  requestId?: string | null;
  at?: Date;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'requestId'>> {
  seq: string;
  requestId: string | null;
  prevHash: string;
  hash: string;
}

export function auditHash(
  prevHash: string,
  seq: string,
  e: {
    at: Date;
    actor: string;
    action: string;
    objectType: string;
    objectId: string;
    summary: unknown;
    requestId: string | null;
  },
): string {
  const content = canonicalJson({
    seq,
    at: e.at.toISOString(),
    actor: e.actor,
    action: e.action,
    objectType: e.objectType,
    objectId: e.objectId,
    summary: e.summary,
    requestId: e.requestId,
  });
  return createHash('sha256').update(`${prevHash}\n${content}`).digest('hex');
}

/** Appends one entry; call it inside the transaction that makes the change. */
export async function appendAudit(trx: Transaction<Schema>, entry: AuditEntry): Promise<AuditRecord> {
  await sql`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`.execute(trx);
  const last = await trx.selectFrom('audit_log').select(['hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const prevHash = last?.hash ?? GENESIS_HASH;
  const { rows } = await sql<{
    seq: string;
  }>`SELECT nextval(pg_get_serial_sequence('audit_log', 'seq'))::text AS seq`.execute(trx);
  const seq = rows[0]?.seq ?? '0';
  // Timestamps keep millisecond precision so the hash recomputes from what the database returns.
  const at = new Date(Math.floor((entry.at ?? new Date()).getTime()));
  const requestId = entry.requestId ?? null;
  const hash = auditHash(prevHash, seq, { ...entry, at, requestId });
  await trx
    .insertInto('audit_log')
    .values({
      seq,
      at,
      actor: entry.actor,
      action: entry.action,
      object_type: entry.objectType,
      object_id: entry.objectId,
      summary: JSON.stringify(entry.summary),
      request_id: requestId,
      prev_hash: prevHash,
      hash,
    })
    .execute();
  return {
    seq,
    at,
    actor: entry.actor,
    action: entry.action,
    objectType: entry.objectType,
    objectId: entry.objectId,
    summary: entry.summary,
    requestId,
    prevHash,
    hash,
  };
}

type Row = Schema['audit_log'] extends infer T ? { [K in keyof T]: unknown } : never;

function toRecord(r: Row): AuditRecord {
  const summary =
    typeof r.summary === 'string'
      ? (JSON.parse(r.summary) as Record<string, unknown>)
      : (r.summary as Record<string, unknown>);
  return {
    seq: String(r.seq),
    at: r.at instanceof Date ? r.at : new Date(String(r.at)),
    actor: String(r.actor),
    action: String(r.action),
    objectType: String(r.object_type),
    objectId: String(r.object_id),
    summary,
    requestId: r.request_id === null ? null : String(r.request_id),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

export interface AuditFilter {
  actor?: string;
  objectType?: string;
  objectId?: string;
  since?: Date;
  until?: Date;
  /** Rows after this sequence number (the cursor of the previous page). */
  after?: string;
  limit?: number;
}

export async function listAudit(db: Kysely<Schema>, f: AuditFilter): Promise<AuditRecord[]> {
  let q = db
    .selectFrom('audit_log')
    .selectAll()
    .orderBy('seq', 'asc')
    .limit(Math.min(f.limit ?? 100, 1000));
  if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
  if (f.objectType !== undefined) q = q.where('object_type', '=', f.objectType);
  if (f.objectId !== undefined) q = q.where('object_id', '=', f.objectId);
  if (f.since !== undefined) q = q.where('at', '>=', f.since);
  if (f.until !== undefined) q = q.where('at', '<', f.until);
  if (f.after !== undefined) q = q.where('seq', '>', f.after);
  return (await q.execute()).map((r) => toRecord(r as Row));
}

export type AuditVerdict =
  | { ok: true; rows: number; head: string }
  | { ok: false; rows: number; seq: string; problem: 'edited' | 'deleted-or-reordered'; message: string };

/** Recomputes the chain from the first row; names the first row that does not fit. */
export async function verifyAudit(db: Kysely<Schema>): Promise<AuditVerdict> {
  let prev = GENESIS_HASH;
  let count = 0;
  let after: string | undefined;
  for (;;) {
    let q = db.selectFrom('audit_log').selectAll().orderBy('seq', 'asc').limit(1000);
    if (after !== undefined) q = q.where('seq', '>', after);
    const page = (await q.execute()).map((r) => toRecord(r as Row));
    if (page.length === 0) return { ok: true, rows: count, head: prev };
    for (const r of page) {
      if (r.prevHash !== prev) {
        return {
          ok: false,
          rows: count,
          seq: r.seq,
          problem: 'deleted-or-reordered',
          message: `row ${r.seq} does not follow the row before it: a row before it was deleted, inserted or moved`,
        };
      }
      if (auditHash(r.prevHash, r.seq, r) !== r.hash) {
        return {
          ok: false,
          rows: count,
          seq: r.seq,
          problem: 'edited',
          message: `row ${r.seq} was edited: its content no longer matches its hash`,
        };
      }
      prev = r.hash;
      count++;
      after = r.seq;
    }
  }
}
