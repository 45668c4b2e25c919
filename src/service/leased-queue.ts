/**
 * The one durable job queue: promotions, webhook and e-mail deliveries and push events are all worked through it.
 * A job is claimed with a lease and a fencing token (src/store/jobs.repository.ts); the lease is renewed while the
 * job runs, and a renewal that fails (the lease was taken over, or could not be extended in time) aborts the job
 * through its AbortSignal. A failed job is retried with the one capped, jittered backoff when its error is transient
 * (src/oci/transient.ts) and it has attempts left — `maxAttempts: 3` means three attempts in all — or, with
 * `retryForMs`, time left since its failures began; it is handed to the owner's `giveUp` otherwise. Every failure is logged with the queue, the job and the attempt.
 *
 * Workers do not poll: they sleep until a notification says there is work (in process, or LISTEN/NOTIFY across
 * replicas), or until the next job becomes due (a retry's backoff, a lapsed lease), checking at the latest every
 * `idleCheckMs` in case a notification was lost. On stop, no new job is claimed; jobs still running after the grace
 * period are aborted and their leases released, so another replica takes them at once.
 */
import type { Logger } from 'pino';
import type { Kysely } from 'kysely';
import { backoffDelay, isTransient, type Backoff } from '../oci/transient.ts';
import {
  claimJob,
  claimJobs,
  LeaseLost,
  queueStats,
  renewLease,
  requeueJob,
  type Claim,
  type JobTableSpec,
  type QueueStats,
} from '../store/jobs.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import type { Schema } from '../store/schema.ts';

export { LeaseLost };

/** A claimed job as its handler sees it: abort when the lease is lost or the server shuts down. */
export interface Job extends Claim {
  signal: AbortSignal;
}

export interface JobHandler {
  /** Does the job and settles it (settleJob, fenced by the claim's token), or throws. */
  run(job: Job): Promise<void>;
  /** Records that the job failed for good (a permanent error, or its attempts are used up), settled the same way. */
  giveUp(job: Job, error: Error): Promise<void>;
  /** The table's own columns to record with a retry (the receiver's HTTP status, say). */
  retryValues?(error: Error): Record<string, unknown>;
}

export type Outcome = 'done' | 'retried' | 'failed' | 'lease-lost' | 'released';

export interface LeasedQueueOptions {
  /** For logs and metrics: `promotions`, `notifications`, `push-events`. */
  name: string;
  leaseMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /**
   * Instead of a number of attempts: retry transient failures for this long after the job's run of failures began
   * (the table must record it, `JobTableSpec.failingSince`), however many attempts that takes.
   */
  retryForMs?: number;
  concurrency: number;
  backoff: Backoff;
  /** The longest a worker sleeps without looking (a notification may be lost while a listener reconnects). */
  idleCheckMs?: number;
  logger: Logger;
  notifier?: Notifier;
  /** Which errors are worth another attempt; default: the transport's classification. */
  transient?: (e: unknown) => boolean;
  /**
   * Work that goes first: while it answers true, this queue claims nothing new (it looks again every YIELD_CHECK_MS),
   * for at most `yieldMaxMs` in a row (default 5 s), so that it is never starved. Jobs already running go on.
   */
  yieldTo?: () => boolean;
  yieldMaxMs?: number;
}

/** How often a queue that yields (`yieldTo`) looks whether it may claim again. */
const YIELD_CHECK_MS = 50;
/** The longest a queue that yields holds off claiming in a row, by default. */
const YIELD_MAX_MS = 5000;

/** How long a look at the queue's statistics answers when the next job is due (see `untilNextDue`). */
const STATS_FRESH_MS = 1000;

class ShuttingDown extends Error {
  constructor() {
    super('the server is shutting down');
    this.name = 'ShuttingDown';
  }
}

interface Running {
  job: Job;
  controller: AbortController;
  done: Promise<void>;
}

export class LeasedQueue {
  private readonly running = new Map<string, Running>();
  private readonly idleCheckMs: number;
  private readonly transient: (e: unknown) => boolean;
  private pump: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private unsubscribe: (() => Promise<void>) | undefined;
  /** The last look at the queue's statistics (./untilNextDue): when, and when the next job was due then. */
  private looked: { at: number; nextDue: number | undefined } = { at: 0, nextDue: undefined };
  /** A job was requeued for a retry here since that look. */
  private retried = false;
  /** Since when this queue has been yielding to other work (`yieldTo`), if it is. */
  private yieldingSince: number | undefined;
  /** Attempts by how they ended, for metrics. */
  readonly outcomes: Record<Outcome, number> = { done: 0, retried: 0, failed: 0, 'lease-lost': 0, released: 0 };

  constructor(
    private readonly db: Kysely<Schema>,
    readonly spec: JobTableSpec,
    private readonly handler: JobHandler,
    readonly o: LeasedQueueOptions,
  ) {
    this.idleCheckMs = o.idleCheckMs ?? 30_000;
    this.transient = o.transient ?? isTransient;
  }

  private get channel(): string {
    return `hoist_queue_${this.spec.table}`;
  }

  /** Whether jobs of this queue are running in this process. */
  get busy(): boolean {
    return this.running.size > 0;
  }

  /** Claims the next due job (for tests and the runner's own claim), or undefined when there is none. */
  claim(now = new Date()): Promise<Claim | undefined> {
    return claimJob(this.db, this.spec, now, this.o.leaseMs);
  }

  stats(now = new Date()): Promise<QueueStats> {
    return queueStats(this.db, this.spec, now);
  }

  /** Claims one due job and carries it out to the end; answers whether there was one. */
  async runOne(): Promise<boolean> {
    const claim = await this.claim();
    if (!claim) return false;
    await this.launch(claim).done;
    return true;
  }

  /** Says that work was committed: wakes this process's workers and, through the notifier, every replica's. */
  notify(): void {
    this.wake();
    void this.o.notifier?.publish(this.channel, '').catch((err: unknown) => {
      this.o.logger.warn({ err }, 'could not publish a wake-up; other replicas will find the work on their next look');
    });
  }

  async start(): Promise<void> {
    if (this.pump) return;
    this.stopping = false;
    this.unsubscribe = await this.o.notifier?.subscribe(this.channel, () => this.wake());
    this.pump = this.loop();
  }

  /**
   * Stops claiming; waits up to `graceMs` for the jobs in flight, then aborts the rest, whose leases are released
   * (with the attempt given back) so that another replica can take them at once.
   */
  async stop(graceMs = 0): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.pump;
    this.pump = undefined;
    await this.unsubscribe?.().catch(() => undefined);
    this.unsubscribe = undefined;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    if (this.running.size > 0 && graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    for (const r of this.running.values()) r.controller.abort(new ShuttingDown());
    await all();
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }

  private async loop(): Promise<void> {
    let dbFailures = 0;
    while (!this.stopping) {
      this.woken = false;
      let wait = this.idleCheckMs;
      try {
        if (this.yielding()) {
          await this.sleep(YIELD_CHECK_MS);
          continue;
        }
        // As many claims as there are free workers, in one statement; fewer than asked for means none is left due.
        while (!this.stopping && this.running.size < this.o.concurrency) {
          const free = this.o.concurrency - this.running.size;
          const claims = await claimJobs(this.db, this.spec, new Date(), this.o.leaseMs, free);
          for (const claim of claims) this.launch(claim);
          if (claims.length < free) break;
        }
        if (this.running.size < this.o.concurrency) wait = Math.min(wait, await this.untilNextDue());
        dbFailures = 0;
      } catch (err) {
        wait = Math.min(wait, backoffDelay(dbFailures++, { baseDelayMs: 500, maxDelayMs: 30_000 }));
        this.o.logger.error({ err, retryInMs: wait }, 'could not claim jobs');
      }
      await this.sleep(wait);
    }
  }

  /** Whether to claim nothing now: the work this queue yields to is under way, and it has not yielded too long. */
  private yielding(): boolean {
    if (this.stopping || !this.o.yieldTo?.()) {
      this.yieldingSince = undefined;
      return false;
    }
    const now = Date.now();
    this.yieldingSince ??= now;
    if (now - this.yieldingSince < (this.o.yieldMaxMs ?? YIELD_MAX_MS)) return true;
    this.yieldingSince = undefined;
    return false;
  }

  /**
   * How long until the next job becomes due (a retry's backoff, a lease that lapses), at most `idleCheckMs`. While
   * jobs are running here (each one's end wakes the workers again) the queue's statistics are asked once per
   * STATS_FRESH_MS at most: a burst woke the workers at every job's arrival and end, and each look was a statement of
   * its own. The last look is reused while it is that fresh and the job it names is not due yet, and never once no job
   * runs here (the workers are about to sleep long) or after a retry was requeued here; so a job due sooner (another
   * replica's lapsed lease or retry) is found at most that much later than it was.
   */
  private async untilNextDue(): Promise<number> {
    const now = Date.now();
    const { at, nextDue } = this.looked;
    const reuse =
      this.running.size > 0 && !this.retried && now - at < STATS_FRESH_MS && (nextDue === undefined || nextDue > now);
    if (reuse) return nextDue === undefined ? this.idleCheckMs : Math.max(100, nextDue - now + 10);
    this.retried = false;
    const next = (await this.stats()).nextDue;
    this.looked = { at: now, nextDue: next?.getTime() };
    return next ? Math.max(100, next.getTime() - Date.now() + 10) : this.idleCheckMs;
  }

  private launch(claim: Claim): Running {
    const controller = new AbortController();
    const job: Job = { ...claim, signal: controller.signal };
    const log = this.o.logger.child({ job: claim.id, attempt: claim.attempts, token: claim.token });
    const stopRenewing = this.keepLease(job, controller, log);
    const done = this.carryOut(job, controller, log).finally(() => {
      stopRenewing();
      this.running.delete(claim.id);
      this.wake();
    });
    const r = { job, controller, done };
    this.running.set(claim.id, r);
    return r;
  }

  /** Renews the lease every third of it; a renewal refused, or none in time, aborts the job. */
  private keepLease(job: Job, controller: AbortController, log: Logger): () => void {
    let heldUntil = Date.now() + this.o.leaseMs;
    const timer = setInterval(
      () => {
        const until = new Date(Date.now() + this.o.leaseMs);
        renewLease(this.db, this.spec, job, until).then(
          (held) => {
            if (held) heldUntil = until.getTime();
            else if (!controller.signal.aborted) {
              log.warn('lease taken over by another worker: aborting the job here');
              controller.abort(new LeaseLost(this.spec.table, job.id));
            }
          },
          (err: unknown) => {
            const lapsed = Date.now() >= heldUntil;
            log.warn({ err, lapsed }, 'could not renew the lease');
            if (lapsed && !controller.signal.aborted) controller.abort(new LeaseLost(this.spec.table, job.id));
          },
        );
      },
      Math.max(50, Math.floor(this.o.leaseMs / 3)),
    );
    timer.unref();
    return () => clearInterval(timer);
  }

  private async carryOut(job: Job, controller: AbortController, log: Logger): Promise<void> {
    try {
      await this.handler.run(job);
      this.outcomes.done++;
      return;
    } catch (e) {
      await this.afterFailure(job, controller, log, e);
    }
  }

  /** Whether a job that failed transiently has another go, `waitMs` from now: attempts left, or time left. */
  private mayRetry(job: Job, waitMs: number): boolean {
    if (this.o.retryForMs === undefined) return job.attempts < this.o.maxAttempts;
    const since = job.failingSince?.getTime() ?? Date.now();
    return Date.now() + waitMs <= since + this.o.retryForMs;
  }

  private limit(): { maxAttempts: number } | { retryForMs: number } {
    return this.o.retryForMs === undefined ? { maxAttempts: this.o.maxAttempts } : { retryForMs: this.o.retryForMs };
  }

  private async afterFailure(job: Job, controller: AbortController, log: Logger, e: unknown): Promise<void> {
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
    const error = e instanceof Error ? e : new Error(String(e));
    try {
      if (e instanceof LeaseLost || reason instanceof LeaseLost) {
        this.outcomes['lease-lost']++;
        log.warn({ err: error }, 'job abandoned: its lease is held by another worker now');
        return;
      }
      if (reason instanceof ShuttingDown) {
        await requeueJob(this.db, this.spec, job, { runAfter: new Date(), message: null, countAttempt: false });
        this.outcomes.released++;
        log.info('job released at shutdown; another worker may take it now');
        this.notify();
        return;
      }
      const waitMs = backoffDelay(job.attempts - 1, this.o.backoff);
      if (this.transient(e) && this.mayRetry(job, waitMs)) {
        await requeueJob(this.db, this.spec, job, {
          runAfter: new Date(Date.now() + waitMs),
          message: error.message,
          countAttempt: true,
          ...(this.handler.retryValues ? { values: this.handler.retryValues(error) as never } : {}),
        });
        this.retried = true;
        this.outcomes.retried++;
        log.warn({ err: error, retryInMs: waitMs, ...this.limit() }, 'job failed; will retry');
        return;
      }
      await this.handler.giveUp(job, error);
      this.outcomes.failed++;
      log.error({ err: error, transient: this.transient(e), ...this.limit() }, 'job failed for good');
    } catch (settling) {
      if (settling instanceof LeaseLost) {
        this.outcomes['lease-lost']++;
        log.warn({ err: error }, 'job failed, but its lease is held by another worker now; left to it');
      } else {
        log.error({ err: settling, cause: error }, 'could not record the failure of a job; its lease will lapse');
      }
    }
  }
}
