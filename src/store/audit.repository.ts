/**
 * The append-only, hash-chained audit log. Each row stores the hash of the row before it and the SHA-256 of
 * (previous hash, its own canonical content, its sequence number), so editing a row, deleting one or reordering
 * them breaks the chain at a row the verifier can name.
 *
 * A row is written in two steps, so that concurrent writers (several replicas, promotions of unrelated
 * applications) never wait for each other: `appendAudit` inserts it, unsealed (no hashes), inside the caller's
 * transaction (a change and its audit row commit or roll back together), in one statement and without a lock; then
 * `sealAudit` chains the committed rows in sequence order in one short transaction, the only one that takes the
 * chain's advisory lock. It seals only settled rows (migration 0026: no transaction that could still commit a smaller
 * sequence number is running), in order, so a row committed late is never passed over. Everything that reads the
 * chain (listing, head, verification, checkpoints) seals first; the sealer (src/service/audit-sealer.ts) also
 * seals shortly after each commit (`NOTIFY hoist_audit_appended`).
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { canonicalJson } from './canonical-json.ts';
import type { Schema } from './schema.ts';

export const GENESIS_HASH = '0'.repeat(64);
/** Arbitrary constant naming the audit chain's advisory lock (held by the sealing transaction only). */
const AUDIT_LOCK = 72_616_001;
/** Committed audit rows wake the sealer of every replica (sent by `audit_append`, migration 0026). */
export const AUDIT_APPENDED_CHANNEL = 'hoist_audit_appended';
/** Rows chained per sealing transaction. */
const SEAL_BATCH = 500;

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

/** Appends one entry, unsealed (answers its sequence number); call it inside the transaction that makes the change. */
export async function appendAudit(trx: Transaction<Schema>, entry: AuditEntry): Promise<string> {
  // Timestamps keep millisecond precision so the hash recomputes from what the database returns.
  const at = new Date(Math.floor((entry.at ?? new Date()).getTime()));
  const { rows } = await sql<{ seq: string }>`
    SELECT audit_append(${at}, ${entry.actor}, ${entry.action}, ${entry.objectType}, ${entry.objectId},
      ${JSON.stringify(entry.summary)}::jsonb, ${entry.requestId ?? null})::text AS seq`.execute(trx);
  return rows[0]?.seq ?? '0';
}

export interface Sealed {
  /** Rows chained now. */
  sealed: number;
  /** Committed rows left unsealed because a transaction that may still commit before them is running. */
  held: boolean;
}

interface UnsealedRow {
  seq: string;
  at: Date | string;
  actor: string;
  action: string;
  object_type: string;
  object_id: string;
  summary: unknown;
  request_id: string | null;
  head_seq: string | null;
  head_hash: string | null;
  held: boolean;
}

/**
 * Chains the settled unsealed rows after the sealed head, in sequence order, in one short transaction under the
 * chain's lock (one sealer at a time, on any replica). Rows beyond the first unsettled one wait for the next call.
 * `ifFree`: when another sealer holds the lock, seal nothing and answer `held` (try again shortly).
 */
export async function sealAudit(db: Kysely<Schema>, o: { ifFree?: boolean } = {}): Promise<Sealed> {
  return db.transaction().execute(async (trx) => {
    if (o.ifFree) {
      // The background sealer does not queue behind another replica's sealer: that one seals what is committed.
      const { rows: got } = await sql<{ locked: boolean }>`
        SELECT pg_try_advisory_xact_lock(${AUDIT_LOCK}) AS locked`.execute(trx);
      if (got[0]?.locked !== true) return { sealed: 0, held: true };
    } else await sql`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`.execute(trx);
    // One statement, one snapshot, taken after the lock is held: it sees every row sealed before, and its settledness
    // test (migration 0026) uses the same snapshot as its reads.
    const { rows } = await sql<UnsealedRow>`
      WITH head AS (SELECT h.seq::text AS seq, h.hash FROM audit_log h WHERE h.hash IS NOT NULL ORDER BY h.seq DESC LIMIT 1),
      stop AS (SELECT min(seq) AS seq FROM audit_log
        WHERE hash IS NULL AND hoist_unsettled(xmin, (SELECT hoist_settled_horizon())))
      SELECT l.seq::text AS seq, l.at, l.actor, l.action, l.object_type, l.object_id, l.summary, l.request_id,
        (SELECT seq FROM head) AS head_seq, (SELECT hash FROM head) AS head_hash,
        (SELECT seq IS NOT NULL FROM stop) AS held
      FROM (SELECT 1) one
      LEFT JOIN audit_log l ON l.hash IS NULL AND l.seq > coalesce((SELECT seq FROM head), '0')::bigint
        AND l.seq < coalesce((SELECT seq FROM stop), 9223372036854775807)
      ORDER BY l.seq LIMIT ${SEAL_BATCH}`.execute(trx);
    const first = rows[0];
    const held = first?.held ?? false;
    const unsealed = rows.filter((r) => r.seq !== null);
    if (unsealed.length === 0) return { sealed: 0, held };
    let prev = first?.head_hash ?? GENESIS_HASH;
    const chained = unsealed.map((r) => {
      const record = toRecord({ ...r, prev_hash: prev, hash: '' } as unknown as Row);
      const hash = auditHash(prev, record.seq, record);
      const row = { seq: record.seq, prevHash: prev, hash };
      prev = hash;
      return row;
    });
    await sql`UPDATE audit_log AS l SET prev_hash = v.prev_hash, hash = v.hash
      FROM (VALUES ${sql.join(chained.map((c) => sql`(${c.seq}::bigint, ${c.prevHash}, ${c.hash})`))})
        AS v(seq, prev_hash, hash)
      WHERE l.seq = v.seq AND l.hash IS NULL`.execute(trx);
    return { sealed: chained.length, held: held || unsealed.length === SEAL_BATCH };
  });
}

/**
 * Seals until nothing settled is left; while rows are held back by a transaction in flight, tries again for up to
 * `waitMs` (the reads of the chain wait so; they then see every row committed before they began).
 */
export async function sealAll(db: Kysely<Schema>, waitMs = 2000): Promise<Sealed> {
  const deadline = Date.now() + waitMs;
  let total = 0;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    const s = await sealAudit(db);
    total += s.sealed;
    if (!s.held) return { sealed: total, held: false };
    if (s.sealed > 0) continue;
    if (Date.now() >= deadline) return { sealed: total, held: true };
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
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

/** Sealed entries (what was committed before the call is sealed first), filtered and paged. */
export async function listAudit(db: Kysely<Schema>, f: AuditFilter): Promise<AuditRecord[]> {
  await sealAll(db);
  let q = db
    .selectFrom('audit_log')
    .selectAll()
    .where('hash', 'is not', null)
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

export type AuditProblem = 'edited' | 'deleted-or-reordered' | 'truncated' | 'rewritten' | 'unsealed';

export type AuditVerdict =
  | { ok: true; rows: number; head: string; headSeq: string }
  | { ok: false; rows: number; seq: string; problem: AuditProblem; message: string };

/** The newest sealed row's sequence number and hash (`0` and the genesis hash when the log is empty); seals first. */
export async function auditHead(db: Kysely<Schema>): Promise<AuditAnchor> {
  await sealAll(db);
  const last = await db
    .selectFrom('audit_log')
    .select(['seq', 'hash'])
    .where('hash', 'is not', null)
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
 * row, or rewriting a row and recomputing every later hash is caught too. Seals first; a row still unsealed then (its
 * seal removed, or held back past the wait by a transaction that does not end) fails verification: it is never
 * passed over.
 */
export async function verifyAudit(db: Kysely<Schema>, o: VerifyOptions = {}): Promise<AuditVerdict> {
  await sealAll(db);
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
    const raw = await q.execute();
    const unsealed = raw.find((r) => r.hash === null || r.prev_hash === null);
    const page = (unsealed ? raw.slice(0, raw.indexOf(unsealed)) : raw).map((r) => toRecord(r as Row));
    if (page.length === 0 && unsealed) {
      return {
        ok: false,
        rows: count,
        seq: String(unsealed.seq),
        problem: 'unsealed',
        message: `row ${String(unsealed.seq)} is not sealed into the chain (its hashes are missing, or a transaction still running holds its sealing back); nothing after it is verified`,
      };
    }
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
