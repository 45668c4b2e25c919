/**
 * Signed checkpoints anchor the audit chain. The chain alone proves only that its rows agree with each other: someone
 * who can write the table can delete the newest rows, delete all of them, or rewrite a row and recompute every later
 * hash with the same function, and the chain still verifies. A checkpoint (sequence number + head hash + time,
 * signed with the audit signing key) kept outside the table pins the chain: it must still contain that row with that
 * hash. The latest checkpoint lives in a file in the data directory, in a log line, and behind
 * `GET /api/v1/audit/checkpoint`, so an external system can keep copies the server cannot take back.
 *
 * A new checkpoint is signed only when the chain since the previous one verifies, so a tampered chain is never
 * blessed by a later checkpoint: the evidence stays until an operator looks.
 */
import type { Kysely } from 'kysely';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { auditHead, verifyAudit, type AuditProblem } from '../store/audit.repository.ts';
import type { Schema } from '../store/schema.ts';
import type { AuditSigningKey } from './audit-signing-key.ts';

export const CHECKPOINT_FORMAT = 'hoist-audit-checkpoint/v1';

export interface AuditCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  /** The newest row covered. */
  seq: string;
  /** That row's hash. */
  head: string;
  /** When it was signed (ISO 8601). */
  at: string;
  keyId: string;
  /** Ed25519 over `checkpointMessage(…)`, base64. */
  signature: string;
}

/** The exact bytes signed: one field a line, so no JSON canonicalisation is needed to check a signature. */
export function checkpointMessage(c: Pick<AuditCheckpoint, 'seq' | 'head' | 'at' | 'keyId'>): string {
  return `${CHECKPOINT_FORMAT}\n${c.seq}\n${c.head}\n${c.at}\n${c.keyId}\n`;
}

export type CheckpointVerdict =
  | {
      ok: true;
      rows: number;
      head: string;
      headSeq: string;
      /** The checkpoint the chain was checked against; null when there was none (then the result proves less). */
      checkpoint: { seq: string; head: string; at: string; keyId: string; source: 'given' | 'stored' } | null;
    }
  | { ok: false; rows: number; seq: string; problem: AuditProblem | 'bad-checkpoint'; message: string };

export interface CheckpointLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CheckpointOptions {
  /** Where the latest checkpoint is kept; none: in memory only. */
  file?: string;
  /** Sign after this many new entries (default 100)… */
  everyEntries?: number;
  /** …or when this much time passed and there is anything new (default 60 s). */
  everyMs?: number;
  log?: CheckpointLog;
  now?: () => Date;
}

function isCheckpoint(v: unknown): v is AuditCheckpoint {
  const c = v as Partial<AuditCheckpoint> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    c.format === CHECKPOINT_FORMAT &&
    typeof c.seq === 'string' &&
    /^[0-9]{1,19}$/.test(c.seq) &&
    typeof c.head === 'string' &&
    /^[0-9a-f]{64}$/.test(c.head) &&
    typeof c.at === 'string' &&
    typeof c.keyId === 'string' &&
    typeof c.signature === 'string'
  );
}

/** Parses a checkpoint (a file's content or a request body); undefined when it is not one. */
export function parseCheckpoint(v: unknown): AuditCheckpoint | undefined {
  return isCheckpoint(v)
    ? { format: v.format, seq: v.seq, head: v.head, at: v.at, keyId: v.keyId, signature: v.signature }
    : undefined;
}

export class AuditCheckpoints {
  private last: AuditCheckpoint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly everyEntries: bigint;
  private readonly everyMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly key: AuditSigningKey,
    private readonly o: CheckpointOptions = {},
  ) {
    this.everyEntries = BigInt(Math.max(1, o.everyEntries ?? 100));
    this.everyMs = Math.max(100, o.everyMs ?? 60_000);
    this.now = o.now ?? (() => new Date());
    this.last = this.readStored();
  }

  get keyId(): string {
    return this.key.keyId;
  }

  get publicKeyPem(): string {
    return this.key.publicKeyPem;
  }

  /** The latest checkpoint this server signed or found in its data directory. */
  latest(): AuditCheckpoint | undefined {
    return this.last;
  }

  /** True when the checkpoint was signed by this server's audit key. */
  signedHere(c: AuditCheckpoint): boolean {
    return c.keyId === this.key.keyId && this.key.verify(checkpointMessage(c), c.signature);
  }

  /** Signs a checkpoint of the current head, if the chain since the previous checkpoint verifies. */
  take(): Promise<AuditCheckpoint | undefined> {
    const run = this.queue.then(() => this.takeNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async takeNow(): Promise<AuditCheckpoint | undefined> {
    const last = this.last;
    if (last !== undefined && !this.signedHere(last)) {
      this.o.log?.error(
        { checkpoint: last, keyId: this.key.keyId },
        'the stored audit checkpoint was not signed by this audit key; not signing new ones until an operator moves it aside',
      );
      return undefined;
    }
    const head = await auditHead(this.db);
    if (last !== undefined && last.seq === head.seq && last.head === head.head) return last;
    const v = await verifyAudit(this.db, last !== undefined ? { from: last } : {});
    if (!v.ok) {
      this.o.log?.error(
        { problem: v.problem, seq: v.seq, checkpoint: last },
        `audit chain does not verify (${v.message}); not signing a new checkpoint`,
      );
      return undefined;
    }
    const unsigned = { seq: v.headSeq, head: v.head, at: this.now().toISOString(), keyId: this.key.keyId };
    const checkpoint: AuditCheckpoint = {
      format: CHECKPOINT_FORMAT,
      ...unsigned,
      signature: this.key.sign(checkpointMessage(unsigned)),
    };
    if (this.o.file !== undefined) {
      const tmp = `${this.o.file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(checkpoint, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, this.o.file);
    }
    this.last = checkpoint;
    this.o.log?.info({ auditCheckpoint: checkpoint }, 'audit checkpoint');
    return checkpoint;
  }

  /** Checks the chain against a given checkpoint, else the stored one; without any, the chain alone. */
  async verify(given?: AuditCheckpoint): Promise<CheckpointVerdict> {
    const checkpoint = given ?? this.readStored() ?? this.last;
    if (checkpoint === undefined) {
      const v = await verifyAudit(this.db);
      return v.ok ? { ...v, checkpoint: null } : v;
    }
    if (!this.signedHere(checkpoint)) {
      return {
        ok: false,
        rows: 0,
        seq: checkpoint.seq,
        problem: 'bad-checkpoint',
        message:
          checkpoint.keyId === this.key.keyId
            ? `the checkpoint of row ${checkpoint.seq} has a signature that does not verify: it was altered`
            : `the checkpoint was signed by key ${checkpoint.keyId}, not by this server's audit key ${this.key.keyId}`,
      };
    }
    const v = await verifyAudit(this.db, { anchor: checkpoint });
    if (!v.ok) return v;
    const { seq, head, at, keyId } = checkpoint;
    return { ...v, checkpoint: { seq, head, at, keyId, source: given !== undefined ? 'given' : 'stored' } };
  }

  /** Checkpoints every `everyEntries` new entries or `everyMs`, whichever comes first. */
  start(): void {
    if (this.timer) return;
    const tick = async (): Promise<void> => {
      const last = this.last;
      const head = await auditHead(this.db);
      const fresh = last === undefined ? BigInt(head.seq) : BigInt(head.seq) - BigInt(last.seq);
      const age = last === undefined ? Infinity : this.now().getTime() - Date.parse(last.at);
      if (fresh >= this.everyEntries || (fresh > 0n && age >= this.everyMs)) await this.take();
    };
    this.timer = setInterval(
      () => void tick().catch((err: unknown) => this.o.log?.error({ err }, 'audit checkpoint failed')),
      Math.min(this.everyMs, 5000),
    );
    this.timer.unref();
  }

  /** Stops the cadence and signs a last checkpoint (on shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.take();
  }

  private readStored(): AuditCheckpoint | undefined {
    const file = this.o.file;
    if (file === undefined || !existsSync(file)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      parsed = undefined;
    }
    const checkpoint = parseCheckpoint(parsed);
    if (checkpoint !== undefined) return checkpoint;
    // An unreadable checkpoint file is evidence too: verification fails on it rather than ignoring it.
    return {
      format: CHECKPOINT_FORMAT,
      seq: '0',
      head: '',
      at: '',
      keyId: `unreadable checkpoint file ${file}`,
      signature: '',
    };
  }
}
