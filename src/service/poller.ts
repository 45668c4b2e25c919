/**
 * The poller, for registries that send no events: watched repositories are listed now and then, and a tag that is
 * new, or that names another digest than last time, becomes a push event like any other. Each registry has a budget
 * of requests per second shared by all its watched repositories (a token bucket every request waits on, first come
 * first served, so repositories checked at once share it fairly). What each check saw is kept in the database, so a
 * restart neither forgets tags nor reports them again.
 */
import { inNamespacesOf, projectIdsNamed } from '../store/namespaces.repository.ts';
import type { Kysely } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidInput, NotFound } from '../errors.ts';
import { parseReference } from '../oci/reference.ts';
import { openRepository } from '../oci/registry.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import type { Intake } from './intake.service.ts';
import type { Registries } from './registries.service.ts';
import { newId } from './tokens.ts';

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

export class Poller {
  private readonly limiters = new Map<string, RateLimiter>();
  private readonly inFlight = new Map<string, Promise<CheckResult>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
    private readonly intake: Intake,
  ) {}

  async add(actor: Actor, target: string, intervalSeconds = 60): Promise<WatchView> {
    const slash = target.indexOf('/');
    if (slash < 0)
      throw new InvalidInput('name REGISTRY/REPOSITORY (a registry hoist knows, by name or host)', 'repository');
    const regName = target.slice(0, slash);
    const repository = target.slice(slash + 1);
    const registry =
      (await this.db
        .selectFrom('registries')
        .selectAll()
        .where((eb) => eb.or([eb('name', '=', regName), eb('url', '=', regName)]))
        .executeTakeFirst()) ?? undefined;
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
        await trx
          .insertInto('watches')
          .values(row)
          .onConflict((oc) =>
            oc.columns(['registry_id', 'repository']).doUpdateSet({ interval_seconds: intervalSeconds }),
          )
          .execute();
        return { result: undefined, summary: { after: { registry: registry.name, repository, intervalSeconds } } };
      },
    );
    this.kick();
    return (await this.list()).find((w) => w.registry === registry.name && w.repository === repository) as WatchView;
  }

  /** Every watch; with `visibleTo` (project names), only those in the projects' namespaces. */
  async list(visibleTo?: readonly string[]): Promise<WatchView[]> {
    const projectIds = visibleTo === undefined ? undefined : await projectIdsNamed(this.db, visibleTo);
    const rows = await this.db
      .selectFrom('watches as w')
      .innerJoin('registries as r', 'r.id', 'w.registry_id')
      .selectAll('w')
      .select('r.name as registry')
      .$if(projectIds !== undefined, (q) => q.where(inNamespacesOf(projectIds ?? [], 'w')))
      .orderBy('r.name')
      .orderBy('w.repository')
      .execute();
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
    const w = await this.db.selectFrom('watches').select(['id', 'repository']).where('id', '=', id).executeTakeFirst();
    if (!w) throw new NotFound('watch', id);
    await audited(this.db, actor, { action: 'watch.delete', objectType: 'watch', objectId: id }, async (trx) => {
      await trx.deleteFrom('watches').where('id', '=', id).execute();
      return { result: undefined, summary: { before: { repository: w.repository } } };
    });
  }

  start(tickMs = 500): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.kick(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private kick(): void {
    void this.checkDue().catch(() => undefined);
  }

  /** Starts a check of every watch that is due and not being checked; answers when those checks are done. */
  async checkDue(now = new Date()): Promise<CheckResult[]> {
    const due = await this.db.selectFrom('watches').select('id').where('next_check_at', '<=', now).execute();
    return Promise.all(due.map((d) => this.check(d.id)));
  }

  /** Lists the repository's tags and their digests within the registry's budget; reports what changed. One check per watch at a time. */
  check(id: string): Promise<CheckResult> {
    const running = this.inFlight.get(id);
    if (running) return running;
    const p = this.checkNow(id).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, p);
    return p;
  }

  private async checkNow(id: string): Promise<CheckResult> {
    const started = Date.now();
    const w = await this.db
      .selectFrom('watches as w')
      .innerJoin('registries as r', 'r.id', 'w.registry_id')
      .selectAll('w')
      .select(['r.name as registry', 'r.poll_budget'])
      .where('w.id', '=', id)
      .executeTakeFirstOrThrow();
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
      const tags = await repo.listTags();
      for (const tag of tags) {
        await limiter.take();
        result.requests++;
        const head = await repo.headManifest(tag);
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
    const now = new Date();
    await this.db
      .updateTable('watches')
      .set({
        tags: JSON.stringify(after),
        last_checked_at: now,
        last_result: JSON.stringify(result),
        next_check_at: new Date(now.getTime() + w.interval_seconds * 1000),
      })
      .where('id', '=', id)
      .execute();
    return result;
  }
}
