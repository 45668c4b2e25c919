/**
 * The poller, for registries that send no events: watched repositories are listed now and then, and a tag that is
 * new, or that names another digest than last time, becomes a push event like any other. Each registry has a budget
 * of requests per second shared by all its watched repositories (a token bucket every request waits on, first come
 * first served, so repositories checked at once share it fairly). What each check saw is kept in the database, so a
 * restart neither forgets tags nor reports them again.
 */
import { projectIdsNamed } from '../store/namespaces.repository.ts';
import type { Kysely } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInput, NotFound } from '../errors.ts';
import { parseReference } from '../oci/reference.ts';
import { openRepository } from '../oci/registry.ts';
import { findRegistryByNameOrHost } from '../store/registries.repository.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import type { Intake } from './intake.service.ts';
import type { Registries } from './registries.service.ts';
import { newId } from './tokens.ts';
import type { Logger } from 'pino';
import { backoffDelay } from '../oci/transient.ts';
import {
  claimNamedLease,
  releaseNamedLease,
  renewNamedLease,
  workerName,
  type NamedLease,
} from '../store/named-leases.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import { WakeLoop } from './wake-loop.ts';
import {
  deleteWatch,
  dueWatches,
  findWatch,
  listWatches,
  nextChecksByRegistry,
  pollLeaseName,
  recordCheck,
  upsertWatch,
  type DueWatch,
} from '../store/watches.repository.ts';

export interface WatchView {
  id: string;
  registry: string;
  repository: string;
  intervalSeconds: number;
  tags: number;
  lastCheckedAt: string | null;
  lastResult: CheckResult | null;
  nextCheckAt: string;
}

export interface CheckResult {
  tags: number;
  added: string[];
  moved: string[];
  removed: string[];
  requests: number;
  seconds: number;
  error?: string;
}

/** A token bucket: `rate` requests per second, bursts up to `rate`, waiters served in arrival order. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(private rate: number) {
    this.tokens = rate;
  }

  setRate(rate: number): void {
    this.rate = rate;
  }

  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = Date.now();
        this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
        this.last = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await sleep(Math.ceil(((1 - this.tokens) / this.rate) * 1000));
      }
    });
    this.queue = turn;
    return turn;
  }
}

export interface PollerOptions {
  /** Who this worker is in `named_leases` (default: one name per instance). */
  holder?: string;
  /** How long a registry's poll lease outlives a worker that stopped renewing it (default 15 s, renewed every 5 s). */
  leaseMs?: number;
  /** The longest the scheduler sleeps without looking (watches added by another replica, a lapsed lease). */
  idleMs?: number;
  notifier?: Notifier;
  logger?: Logger;
}

const CHANNEL = 'hoist_watches';

/**
 * Checks watches when they are due. Each registry's watches are checked under its named poll lease, so with N
 * replicas each registry is polled by one of them at a time and its budget is spent once; the results are written
 * only while the lease is still held (a worker that stalled mid-check writes nothing). The scheduler sleeps until
 * the next watch is due or a watch is added, not on a fixed tick.
 */
export class Poller {
  readonly holder: string;
  private readonly leaseMs: number;
  private readonly idleMs: number;
  private readonly loop: WakeLoop;
  private failures = 0;
  private readonly limiters = new Map<string, RateLimiter>();
  /** The registries this worker is polling now (by id), and the checks' results. */
  private readonly polling = new Map<string, Promise<CheckResult[]>>();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
    private readonly intake: Intake,
    private readonly o: PollerOptions = {},
  ) {
    this.holder = o.holder ?? workerName();
    this.leaseMs = o.leaseMs ?? 15_000;
    this.idleMs = o.idleMs ?? 60_000;
    this.loop = new WakeLoop(CHANNEL, () => this.round(), o.notifier);
  }

  async add(actor: Actor, target: string, intervalSeconds = 60): Promise<WatchView> {
    const slash = target.indexOf('/');
    if (slash < 0)
      throw new InvalidInput('name REGISTRY/REPOSITORY (a registry hoist knows, by name or host)', 'repository');
    const regName = target.slice(0, slash);
    const repository = target.slice(slash + 1);
    const registry = await findRegistryByNameOrHost(this.db, regName);
    if (!registry) throw new InvalidInput(`no registry "${regName}" (hoist registry list)`, 'registry');
    parseReference(`${registry.url}/${repository}`, 'repository');
    if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1 || intervalSeconds > 86_400)
      throw new InvalidInput('whole seconds between 1 and 86400', 'intervalSeconds');
    const now = new Date();
    const row = {
      id: newId(),
      registry_id: registry.id,
      repository,
      interval_seconds: intervalSeconds,
      tags: '{}',
      last_checked_at: null,
      last_result: null,
      next_check_at: now,
      created_by: actor.username,
      created_at: now,
    };
    await audited(
      this.db,
      actor,
      { action: 'watch.create', objectType: 'watch', objectId: `${registry.name}/${repository}` },
      async (trx) => {
        await upsertWatch(trx, row);
        return { result: undefined, summary: { after: { registry: registry.name, repository, intervalSeconds } } };
      },
    );
    this.notify();
    return (await this.list()).find((w) => w.registry === registry.name && w.repository === repository) as WatchView;
  }

  /** Every watch; with `visibleTo` (project names), only those in the projects' namespaces. */
  async list(visibleTo?: readonly string[]): Promise<WatchView[]> {
    const projectIds = visibleTo === undefined ? undefined : await projectIdsNamed(this.db, visibleTo);
    const rows = await listWatches(this.db, projectIds);
    return rows.map((w) => ({
      id: w.id,
      registry: w.registry,
      repository: w.repository,
      intervalSeconds: w.interval_seconds,
      tags: Object.keys(w.tags as Record<string, string>).length,
      lastCheckedAt: w.last_checked_at?.toISOString() ?? null,
      lastResult: w.last_result === null ? null : (w.last_result as CheckResult),
      nextCheckAt: w.next_check_at.toISOString(),
    }));
  }

  async remove(actor: Actor, id: string): Promise<void> {
    const w = await findWatch(this.db, id);
    if (!w) throw new NotFound('watch', id);
    await audited(this.db, actor, { action: 'watch.delete', objectType: 'watch', objectId: id }, async (trx) => {
      await deleteWatch(trx, id);
      return { result: undefined, summary: { before: { repository: w.repository } } };
    });
  }

  /** Says watches changed: this worker's scheduler looks now, and so does every replica's. */
  notify(): void {
    this.loop.notify();
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  /** Stops scheduling and waits for the checks under way (their leases are then released). */
  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.polling.values()]);
  }

  /** One scheduling round: answers how long to sleep (until the next watch is due, or a backoff after a failure). */
  private async round(): Promise<number> {
    try {
      const next = (await this.schedule(new Date())).next;
      this.failures = 0;
      return next ? Math.min(this.idleMs, Math.max(50, next.getTime() - Date.now() + 5)) : this.idleMs;
    } catch (err) {
      const wait = Math.min(this.idleMs, backoffDelay(this.failures++, { baseDelayMs: 500, maxDelayMs: 30_000 }));
      this.o.logger?.warn({ err, retryInMs: wait }, 'could not schedule watch checks');
      return wait;
    }
  }

  /** Checks every watch due at `now` whose registry this worker can take the poll lease of; answers when those are done. */
  async checkDue(now = new Date()): Promise<CheckResult[]> {
    return (await Promise.all((await this.schedule(now)).started)).flat();
  }

  /**
   * Starts polling each registry with a due watch that is not being polled here and whose lease this worker gets;
   * answers those polls and when to look again (the next watch due, or a lease held elsewhere running out).
   */
  private async schedule(now: Date): Promise<{ started: Promise<CheckResult[]>[]; next: Date | undefined }> {
    const started: Promise<CheckResult[]>[] = [];
    let next: Date | undefined;
    const sooner = (d: Date): void => {
      if (!next || d < next) next = d;
    };
    for (const { registryId, nextCheckAt } of await nextChecksByRegistry(this.db)) {
      const running = this.polling.get(registryId);
      if (running) {
        started.push(running);
        continue;
      }
      if (nextCheckAt > now) {
        sooner(nextCheckAt);
        continue;
      }
      const lease = await claimNamedLease(this.db, pollLeaseName(registryId), this.holder, now, this.leaseMs);
      if (!lease) {
        // Another replica polls this registry; look again in case it dies (its lease then lapses).
        sooner(new Date(Date.now() + Math.floor(this.leaseMs / 3)));
        continue;
      }
      const poll = this.pollRegistry(registryId, lease, now).finally(() => {
        this.polling.delete(registryId);
        this.loop.wake();
      });
      this.polling.set(registryId, poll);
      started.push(poll);
    }
    return { started, next };
  }

  /** Checks the registry's due watches under its lease, renewed while they run; gives the lease up afterwards. */
  private async pollRegistry(registryId: string, lease: NamedLease, now: Date): Promise<CheckResult[]> {
    const controller = new AbortController();
    const renewing = setInterval(
      () =>
        void renewNamedLease(this.db, lease, new Date(Date.now() + this.leaseMs)).then(
          (held) => {
            if (!held) controller.abort(new Error('the poll lease was taken over by another replica'));
          },
          (err: unknown) => this.o.logger?.warn({ err, registryId }, 'could not renew the poll lease'),
        ),
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    renewing.unref();
    try {
      const due = await dueWatches(this.db, registryId, now);
      return await Promise.all(due.map((w) => this.check(w, lease, controller.signal)));
    } finally {
      clearInterval(renewing);
      await releaseNamedLease(this.db, lease).catch(() => undefined);
    }
  }

  /** Lists the repository's tags and their digests within the registry's budget; reports what changed. */
  private async check(w: DueWatch, lease: NamedLease, signal: AbortSignal): Promise<CheckResult> {
    const started = Date.now();
    const limiter = this.limiters.get(w.registry_id) ?? new RateLimiter(w.poll_budget);
    limiter.setRate(w.poll_budget);
    this.limiters.set(w.registry_id, limiter);
    const before = w.tags as Record<string, string>;
    const result: CheckResult = { tags: 0, added: [], moved: [], removed: [], requests: 0, seconds: 0 };
    const after: Record<string, string> = {};
    try {
      const repo = openRepository(await this.registries.open(w.registry), w.repository);
      await limiter.take();
      result.requests++;
      const tags = await repo.listTags(signal);
      for (const tag of tags) {
        await limiter.take();
        signal.throwIfAborted();
        result.requests++;
        const head = await repo.headManifest(tag, signal);
        if (head) after[tag] = head.digest;
      }
      result.tags = Object.keys(after).length;
      for (const [tag, digest] of Object.entries(after)) {
        if (before[tag] === undefined) result.added.push(tag);
        else if (before[tag] !== digest) result.moved.push(tag);
      }
      result.removed = Object.keys(before).filter((t) => after[t] === undefined);
      const events = [...result.added, ...result.moved].map((tag) => ({
        id: `${w.repository}:${tag}:${after[tag]}`,
        repository: w.repository,
        tag,
        digest: after[tag] as string,
      }));
      if (events.length > 0) await this.intake.receive(w.registry_id, 'poll', events);
    } catch (e) {
      result.error = (e as Error).message;
      Object.assign(after, before);
    }
    result.seconds = (Date.now() - started) / 1000;
    const at = new Date();
    const next = new Date(at.getTime() + w.interval_seconds * 1000);
    if (!(await recordCheck(this.db, lease, { id: w.id, tags: after, result, at, next })))
      this.o.logger?.warn(
        { watch: w.id },
        'the poll lease changed hands during the check: its result was not recorded',
      );
    return result;
  }
}
