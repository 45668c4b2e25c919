/**
 * Seals the audit chain shortly after rows are committed (src/store/audit.repository.ts says why rows arrive unsealed).
 * Each committed transaction that appended rows sends `NOTIFY hoist_audit_appended`; on every replica the sealer
 * wakes, waits a moment so that a burst of commits is sealed in one transaction, and seals; while commits keep coming,
 * it seals at most once per `spacingMs` (each seal is a transaction, and on the embedded database nothing else runs
 * while one is open: a burst of 100 pushes was sealed 156 times, three statements each, amid the pushes' own work). A
 * replica that finds another sealing (the chain's lock taken) does not wait for it: it looks again shortly. Rows held
 * back by a transaction still in flight are tried again shortly. Nothing is lost when a wake-up is: every read of the
 * chain seals first, and the checkpoint cadence (src/service/audit-checkpoints.ts, at least every 5 s) reads the head.
 */
import type { Kysely } from 'kysely';
import { AUDIT_APPENDED_CHANNEL, sealAudit } from '../store/audit.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import type { Schema } from '../store/schema.ts';

export interface SealerLog {
  warn(obj: object, msg: string): void;
}

export class AuditSealer {
  private unsubscribe: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private held = false;
  private stopped = true;
  /** When the last seal began (performance.now()). */
  private lastSealAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly notifier: Notifier,
    private readonly o: { delayMs?: number; spacingMs?: number; log?: SealerLog } = {},
  ) {}

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = await this.notifier.subscribe(AUDIT_APPENDED_CHANNEL, () => this.wake());
    this.wake();
  }

  /**
   * Seals soon: after `delayMs` (default 10 ms, so that a burst of commits is sealed at once), and no sooner than
   * `spacingMs` (default 100 ms) after the last seal began.
   */
  wake(delayMs = this.o.delayMs ?? 10): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const spaced = this.lastSealAt + (this.o.spacingMs ?? 100) - performance.now();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.lastSealAt = performance.now();
        this.running = this.seal().finally(() => {
          this.running = undefined;
          if (this.again || this.held) {
            const delay = this.again ? undefined : 50;
            this.again = false;
            this.held = false;
            this.wake(delay);
          }
        });
      },
      Math.max(delayMs, spaced),
    );
    this.timer.unref();
  }

  private async seal(): Promise<void> {
    try {
      for (;;) {
        const s = await sealAudit(this.db, { ifFree: true });
        if (!s.held) return;
        // Held back by a transaction in flight (which may append nothing, so no wake-up may come), or another
        // replica is sealing: look again soon.
        if (s.sealed === 0) {
          this.held = true;
          return;
        }
      }
    } catch (err) {
      this.o.log?.warn({ err }, 'sealing the audit chain failed; the next read or checkpoint seals it');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await this.unsubscribe?.().catch(() => undefined);
    this.unsubscribe = undefined;
  }
}
