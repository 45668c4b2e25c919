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
  // One statement for the chain's last hash and the next number, sent after the lock is held: its snapshot (taken when
  // the statement starts) sees every entry committed before this transaction got the lock.
  const { rows } = await sql<{ hash: string | null; seq: string }>`
    SELECT (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS hash,
      nextval(pg_get_serial_sequence('audit_log', 'seq'))::text AS seq`.execute(trx);
  const prevHash = rows[0]?.hash ?? GENESIS_HASH;
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
  /** Rows after this sequence number (the cursor of the previous page, oldest first). */
  after?: string;
  /** Rows before this sequence number (the cursor of the previous page, newest first). */
  before?: string;
  /** Oldest first (the chain's order, the default here) or newest first (what a person reading the log wants). */
  order?: 'oldest' | 'newest';
  limit?: number;
}

export async function listAudit(db: Kysely<Schema>, f: AuditFilter): Promise<AuditRecord[]> {
  let q = db
    .selectFrom('audit_log')
    .selectAll()
    .orderBy('seq', f.order === 'newest' ? 'desc' : 'asc')
    .limit(Math.min(f.limit ?? 100, 1000));
  if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
  if (f.objectType !== undefined) q = q.where('object_type', '=', f.objectType);
  if (f.objectId !== undefined) q = q.where('object_id', '=', f.objectId);
  if (f.since !== undefined) q = q.where('at', '>=', f.since);
  if (f.until !== undefined) q = q.where('at', '<', f.until);
  if (f.after !== undefined) q = q.where('seq', '>', f.after);
  if (f.before !== undefined) q = q.where('seq', '<', f.before);
  return (await q.execute()).map((r) => toRecord(r as Row));
}

/** A row the chain must still contain, as a signed checkpoint names it (sequence number and that row's hash). */
export interface AuditAnchor {
  seq: string;
  head: string;
}

export type AuditProblem = 'edited' | 'deleted-or-reordered' | 'truncated' | 'rewritten';

export type AuditVerdict =
  | { ok: true; rows: number; head: string; headSeq: string }
  | { ok: false; rows: number; seq: string; problem: AuditProblem; message: string };

/** The newest row's sequence number and hash (`0` and the genesis hash when the log is empty). */
export async function auditHead(db: Kysely<Schema>): Promise<AuditAnchor> {
  const last = await db
    .selectFrom('audit_log')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return last ? { seq: String(last.seq), head: String(last.hash) } : { seq: '0', head: GENESIS_HASH };
}

export interface VerifyOptions {
  /** The chain must still contain this row with this hash (a checkpoint): catches truncation, wipes and rewrites. */
  anchor?: AuditAnchor;
  /** Start at this row, already verified (a previous checkpoint), instead of the first: the row must be unchanged. */
  from?: AuditAnchor;
}

const isPast = (seq: string, anchor: AuditAnchor | undefined): boolean =>
  anchor !== undefined && BigInt(seq) > BigInt(anchor.seq);

/**
 * Recomputes the chain from the first row (or from `from`); names the first row that does not fit. With an `anchor`,
 * also proves that the anchored row is still there with the hash it had, so deleting the newest rows, deleting every
 * row, or rewriting a row and recomputing every later hash is caught too.
 */
export async function verifyAudit(db: Kysely<Schema>, o: VerifyOptions = {}): Promise<AuditVerdict> {
  const anchor = o.anchor !== undefined && o.anchor.seq !== '0' ? o.anchor : undefined;
  let prev = GENESIS_HASH;
  let prevSeq = '0';
  let count = 0;
  let after: string | undefined;
  let anchorSeen = anchor === undefined;
  if (o.from !== undefined && o.from.seq !== '0') {
    const start = await db.selectFrom('audit_log').select(['hash']).where('seq', '=', o.from.seq).executeTakeFirst();
    if (start?.hash !== o.from.head) {
      return {
        ok: false,
        rows: 0,
        seq: o.from.seq,
        problem: start ? 'rewritten' : 'truncated',
        message: start
          ? `row ${o.from.seq} no longer has the hash an earlier checkpoint signed: the chain was rewritten`
          : `row ${o.from.seq}, named by an earlier checkpoint, is gone: rows were deleted`,
      };
    }
    prev = o.from.head;
    prevSeq = o.from.seq;
    after = o.from.seq;
    if (anchor !== undefined && anchor.seq === o.from.seq) anchorSeen = anchor.head === o.from.head;
  }
  const missingAnchor = (a: AuditAnchor): AuditVerdict => ({
    ok: false,
    rows: count,
    seq: a.seq,
    problem: 'truncated',
    message:
      prevSeq === '0'
        ? `the log is empty but a checkpoint names row ${a.seq}: rows were deleted`
        : `the chain ends at row ${prevSeq} but a checkpoint names row ${a.seq}: the newest rows were deleted`,
  });
  for (;;) {
    let q = db.selectFrom('audit_log').selectAll().orderBy('seq', 'asc').limit(1000);
    if (after !== undefined) q = q.where('seq', '>', after);
    const page = (await q.execute()).map((r) => toRecord(r as Row));
    if (page.length === 0) {
      if (!anchorSeen && anchor !== undefined) return missingAnchor(anchor);
      return { ok: true, rows: count, head: prev, headSeq: prevSeq };
    }
    for (const r of page) {
      if (!anchorSeen && anchor !== undefined && isPast(r.seq, anchor)) {
        return {
          ok: false,
          rows: count,
          seq: anchor.seq,
          problem: 'rewritten',
          message: `row ${anchor.seq}, named by the checkpoint, is gone from the middle of the chain: the chain was rebuilt`,
        };
      }
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
      if (anchor !== undefined && r.seq === anchor.seq) {
        if (r.hash !== anchor.head) {
          return {
            ok: false,
            rows: count,
            seq: r.seq,
            problem: 'rewritten',
            message: `row ${r.seq} has a different hash than the checkpoint signed: the chain up to it was rewritten and its hashes recomputed`,
          };
        }
        anchorSeen = true;
      }
      prev = r.hash;
      prevSeq = r.seq;
      count++;
      after = r.seq;
    }
  }
}
