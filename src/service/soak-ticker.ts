/**
 * The soak tick: soak times end while nothing happens, so something must look for builds that have soaked since the
 * last look and hand them to the automation (rules, track-latest). With N replicas on one database that look happens
 * once in total: it is done under the named lease `soak-tick` (src/store/named-leases.repository.ts), whose cursor
 * says how far the last holder got, so a replica that takes over after the holder died (its lease lapsed) continues
 * where it stopped, and a holder that stalled past its lease cannot move the cursor any more.
 *
 * The tick does not run every second: it sleeps until the next soak time ends, or until told that a build arrived
 * somewhere (in process, or through the notifier from another replica), and at the latest every `idleMs` — which is
 * also how soon a replica notices that the holder's lease has lapsed.
 */
import { WakeLoop } from './wake-loop.ts';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import {
  advanceLeaseCursor,
  claimNamedLease,
  releaseNamedLease,
  workerName,
  type NamedLease,
} from '../store/named-leases.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import type { Schema } from '../store/schema.ts';
import { nextSoakEnd, soakEndedBetween } from '../store/soak.query.ts';

export interface SoakTickerOptions {
  /** Who this worker is in `named_leases` (default: host, pid and a random suffix: one per instance). */
  holder?: string;
  /** How long the lease outlives a holder that stopped ticking (default 15 s). */
  leaseMs?: number;
  /** The longest the ticker sleeps without looking (default a third of the lease, so it renews in time). */
  idleMs?: number;
  notifier?: Notifier;
  logger?: Logger;
}

export const SOAK_TICK_LEASE = 'soak-tick';
const CHANNEL = 'hoist_soak_tick';
/** The first tick ever looks this far back. */
const FIRST_LOOK_MS = 86_400_000;

export class SoakTicker {
  readonly holder: string;
  private readonly leaseMs: number;
  private readonly idleMs: number;
  private lease: NamedLease | undefined;
  private running: Promise<number | undefined> | undefined;
  private readonly loop: WakeLoop;

  constructor(
    private readonly db: Kysely<Schema>,
    /** Runs the automation for artifacts that have soaked; answers how many promotions it opened. */
    private readonly consider: (artifactIds: string[], now: Date) => Promise<number>,
    private readonly o: SoakTickerOptions = {},
  ) {
    this.holder = o.holder ?? workerName();
    this.leaseMs = o.leaseMs ?? 15_000;
    this.idleMs = o.idleMs ?? Math.floor(this.leaseMs / 3);
    this.loop = new WakeLoop(CHANNEL, () => this.round(), o.notifier);
  }

  /**
   * Looks once: if this worker holds (or can take) the lease, artifacts whose soak ended since the cursor are
   * considered and the cursor moves to `now`. Answers the promotions opened, or undefined when another worker holds
   * the lease. One tick at a time per worker.
   */
  tick(now = new Date()): Promise<number | undefined> {
    this.running ??= this.tickOnce(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async tickOnce(now: Date): Promise<number | undefined> {
    const lease = await claimNamedLease(this.db, SOAK_TICK_LEASE, this.holder, now, this.leaseMs);
    this.lease = lease;
    if (!lease) return undefined;
    const since = lease.cursor ?? new Date(now.getTime() - FIRST_LOOK_MS);
    const due = since < now ? await soakEndedBetween(this.db, since, now) : [];
    const fired = due.length === 0 ? 0 : await this.consider(due, now);
    // Considering twice is harmless (each firing is keyed); a cursor moved by a stale holder would skip work.
    if (!(await advanceLeaseCursor(this.db, lease, now)))
      this.o.logger?.warn({ lease: SOAK_TICK_LEASE }, 'the soak tick lease changed hands during the tick');
    return fired;
  }

  /** Says a build arrived somewhere (its soak time starts): the worker holding the lease looks again soon. */
  notify(): void {
    this.loop.notify();
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  /** Stops ticking and gives the lease up, so another replica takes the tick over at once. */
  async stop(): Promise<void> {
    await this.loop.stop();
    if (this.lease) await releaseNamedLease(this.db, this.lease).catch(() => undefined);
    this.lease = undefined;
  }

  /** One round: tick, then answer how long to sleep (until the next soak ends, at most idleMs). */
  private async round(): Promise<number> {
    try {
      const now = new Date();
      if ((await this.tick(now)) !== undefined) {
        const next = await nextSoakEnd(this.db, now);
        if (next) return Math.min(this.idleMs, Math.max(50, next.getTime() - Date.now() + 5));
      }
    } catch (err) {
      this.o.logger?.warn({ err }, 'soak tick failed');
    }
    return this.idleMs;
  }
}
