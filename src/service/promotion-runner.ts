/**
 * Carries out queued promotions, durably: a QUEUED target is claimed with a lease (FOR UPDATE SKIP LOCKED, so
 * replicas share the work and none takes a target twice), copied with the copy engine from the source environment's
 * location to the target's, then recorded as PROMOTED with what it cost. A target whose lease ran out (its server
 * died mid-copy) is claimed again; the copy is idempotent by digest and the tag is written last, so finishing it
 * after a restart has the effect of exactly one promotion. Transient registry failures are retried with backoff.
 */
import { sql, type Kysely } from 'kysely';
import { copyImage } from '../copy/copy-image.ts';
import { DigestMismatch, NetworkError, RegistryError } from '../errors.ts';
import { openHost, openRepository } from '../oci/registry.ts';
import { appendAudit } from '../store/audit.repository.ts';
import { targetsInContext } from '../store/promotion-targets.query.ts';
import type { Schema } from '../store/schema.ts';
import type { Registries } from './registries.service.ts';
import { Outbox } from './outbox.ts';
import { WorkLoop } from './work-loop.ts';
import { describeWindow, isOpen, nextOpening, type PromotionWindow } from '../automation/window.ts';
import { windowsOf } from './environments.service.ts';

export interface RunnerOptions {
  leaseMs?: number;
  maxAttempts?: number;
  pollMs?: number;
  /** Promotions carried out at once (each a copy; the database only hands out claims). */
  concurrency?: number;
}

/** The tag a promotion writes at the target: the source tag, or the stage's tag convention applied to it. */
export function targetTag(
  kind: 'repository' | 'tag',
  template: string | null,
  app: string,
  sourceTag: string | null,
): string | null {
  if (kind === 'repository') return sourceTag;
  if (template === null) return null;
  if (template.includes('{tag}') && sourceTag === null) return null;
  return template.replaceAll('{tag}', sourceTag ?? '').replaceAll('{app}', app);
}

class Permanent extends Error {}

export class PromotionRunner {
  private readonly leaseMs: number;
  private readonly maxAttempts: number;
  private readonly loop: WorkLoop;
  /** Told when an artifact arrived in an environment, so the automation can move it on. */
  onPromoted: (artifactId: string) => void = () => {};

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
    o: RunnerOptions = {},
    private readonly outbox: Outbox = new Outbox(false),
  ) {
    this.leaseMs = o.leaseMs ?? 120_000;
    this.maxAttempts = o.maxAttempts ?? 5;
    this.loop = new WorkLoop(() => this.runOne(), { concurrency: o.concurrency ?? 8, pollMs: o.pollMs ?? 250 });
  }

  /** Claims the next due target, or undefined when there is none. */
  async claim(now = new Date()): Promise<string | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('promotion_targets')
        .select('id')
        .where((eb) =>
          eb.or([
            eb.and([eb('state', '=', 'QUEUED'), eb.or([eb('run_after', 'is', null), eb('run_after', '<=', now)])]),
            eb.and([eb('state', '=', 'PROMOTING'), eb('lease_until', '<', now)]),
          ]),
        )
        .orderBy('updated_at')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!row) return undefined;
      await trx
        .updateTable('promotion_targets')
        .set({
          state: 'PROMOTING',
          lease_until: new Date(now.getTime() + this.leaseMs),
          attempts: sql`attempts + 1`,
          updated_at: now,
        })
        .where('id', '=', row.id)
        .execute();
      return row.id;
    });
  }

  /** Claims and carries out one target; answers whether there was one. */
  async runOne(): Promise<boolean> {
    const id = await this.claim();
    if (id === undefined) return false;
    await this.execute(id);
    return true;
  }

  /** Keeps the lease of a target being worked on, so a long copy is not taken over by another worker. */
  private keepLease(id: string): () => void {
    const timer = setInterval(
      () => {
        void this.db
          .updateTable('promotion_targets')
          .set({ lease_until: new Date(Date.now() + this.leaseMs) })
          .where('id', '=', id)
          .where('state', '=', 'PROMOTING')
          .execute()
          .catch(() => undefined);
      },
      Math.max(50, this.leaseMs / 3),
    );
    return () => clearInterval(timer);
  }

  private async execute(id: string): Promise<void> {
    const release = this.keepLease(id);
    try {
      await this.carryOut(id);
    } finally {
      release();
    }
  }

  private async carryOut(id: string): Promise<void> {
    const t = await targetsInContext(this.db)
      .innerJoin('registries as sreg', 'sreg.id', 's.registry_id')
      .innerJoin('registries as dreg', 'dreg.id', 'e.registry_id')
      .leftJoin('artifact_locations as loc', (j) =>
        j.onRef('loc.artifact_id', '=', 'r.artifact_id').onRef('loc.environment_id', '=', 'r.source_env_id'),
      )
      .select([
        't.id',
        't.attempts',
        'r.id as requestId',
        'r.artifact_id as artifactId',
        'r.digest',
        'a.name as app',
        'p.name as project',
        's.repository_template as srcRepo',
        'e.repository_template as dstRepo',
        'e.kind as dstKind',
        'e.tag_template as dstTag',
        'e.name as dstName',
        'e.id as dstId',
        'e.immutable_tags as immutable',
        'e.allow_tag_move as allowMove',
        'sreg.name as srcRegistry',
        'dreg.name as dstRegistry',
        'loc.tag as sourceTag',
        'p.id as projectId',
        's.name as srcName',
        'r.requested_by as requestedBy',
        'r.comment',
        't.tag as chosenTag',
        't.window_override as windowOverride',
        'e.windows as windows',
      ])
      .where('t.id', '=', id)
      .executeTakeFirstOrThrow();
    const started = new Date();
    if (await this.heldBack(t.id, t.digest, t.windowOverride ? [] : windowsOf(t.windows), t.dstName, started)) return;
    const notice = {
      projectId: t.projectId,
      project: t.project,
      application: t.app,
      requestId: t.requestId,
      digest: t.digest,
      from: t.srcName,
      environments: [t.dstName],
      actor: 'hoist',
      requestedBy: t.requestedBy,
      ...(t.comment ? { comment: t.comment } : {}),
    };
    try {
      const [sc, dc] = await Promise.all([
        this.registries.credentials(t.srcRegistry),
        this.registries.credentials(t.dstRegistry),
      ]);
      const sourceHost = openHost(sc.host, {
        insecure: sc.insecure,
        agent: sc.agent,
        ...(sc.credentials ? { credentials: sc.credentials } : {}),
      });
      const sameHost = sc.host === dc.host && sc.credentials?.username === dc.credentials?.username;
      const targetHost = sameHost
        ? sourceHost
        : openHost(dc.host, {
            insecure: dc.insecure,
            agent: dc.agent,
            ...(dc.credentials ? { credentials: dc.credentials } : {}),
          });
      const repository = t.dstRepo.replaceAll('{app}', t.app);
      const tag = t.chosenTag ?? targetTag(t.dstKind, t.dstTag, t.app, t.sourceTag);
      if (tag !== null) {
        const existing = await openRepository(targetHost, repository).headManifest(tag);
        if (existing && existing.digest !== t.digest && (t.immutable || !t.allowMove)) {
          throw new Permanent(
            `tag ${tag} in ${t.dstName} already names ${existing.digest}, and ${t.dstName} ${t.immutable ? 'has immutable tags' : 'does not allow moving a tag to another digest'}`,
          );
        }
      }
      const result = await copyImage({
        source: { registry: sc.host, repository: t.srcRepo.replaceAll('{app}', t.app), digest: t.digest },
        sourceHost,
        target: { registry: dc.host, repository, ...(tag !== null ? { tag } : { digest: t.digest }) },
        targetHost,
      });
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('promotion_targets')
          .set({
            state: 'PROMOTED',
            lease_until: null,
            reason: null,
            updated_at: new Date(),
            result: JSON.stringify({ ...result, tag }),
          })
          .where('id', '=', id)
          .execute();
        await trx
          .deleteFrom('artifact_locations')
          .where('artifact_id', '=', t.artifactId)
          .where('environment_id', '=', t.dstId)
          .execute();
        await trx
          .insertInto('artifact_locations')
          .values({ artifact_id: t.artifactId, environment_id: t.dstId, tag, since: new Date() })
          .execute();
        await appendAudit(trx, {
          actor: 'hoist',
          action: 'promotion.promoted',
          objectType: 'promotion',
          objectId: t.requestId,
          summary: {
            environment: t.dstName,
            digest: t.digest,
            tag,
            bytesStreamed: result.bytesStreamed,
            blobsMounted: result.blobsMounted,
            seconds: result.seconds,
            startedAt: started.toISOString(),
          },
        });
        await this.outbox.add(trx, { ...notice, event: 'promotion.promoted', tag });
      });
      this.outbox.wake();
      this.onPromoted(t.artifactId);
    } catch (e) {
      const message = (e as Error).message;
      const transient =
        !(e instanceof Permanent) &&
        !(e instanceof DigestMismatch) &&
        (e instanceof NetworkError ||
          (e instanceof RegistryError && (e.status >= 500 || e.status === 429 || e.status === 408)));
      const retry = transient && t.attempts < this.maxAttempts;
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('promotion_targets')
          .set({
            state: retry ? 'QUEUED' : 'FAILED',
            lease_until: null,
            reason: message,
            updated_at: new Date(),
            run_after: retry ? new Date(Date.now() + Math.min(60_000, 1000 * 2 ** t.attempts)) : null,
          })
          .where('id', '=', id)
          .execute();
        if (!retry) {
          await appendAudit(trx, {
            actor: 'hoist',
            action: 'promotion.failed',
            objectType: 'promotion',
            objectId: t.requestId,
            summary: { environment: t.dstName, digest: t.digest, error: message, attempts: t.attempts },
          });
          await this.outbox.add(trx, { ...notice, event: 'promotion.failed', reason: message });
        }
      });
      if (!retry) this.outbox.wake();
    }
  }

  /**
   * A claimed target that may not run now goes back: outside its environment's promotion windows it waits in QUEUED
   * until the next opens (with the reason); a digest quarantined since it was queued is rejected.
   */
  private async heldBack(
    id: string,
    digest: string,
    windows: PromotionWindow[],
    env: string,
    now: Date,
  ): Promise<boolean> {
    const q = await this.db
      .selectFrom('quarantine')
      .select(['reason', 'by_user'])
      .where('digest', '=', digest)
      .executeTakeFirst();
    if (q) {
      await this.db
        .updateTable('promotion_targets')
        .set({
          state: 'REJECTED',
          lease_until: null,
          reason: `quarantined by ${q.by_user}: ${q.reason}`,
          updated_at: now,
        })
        .where('id', '=', id)
        .execute();
      return true;
    }
    if (isOpen(windows, now)) return false;
    const next = nextOpening(windows, now) ?? new Date(now.getTime() + 3600_000);
    const reason = `waiting for a promotion window of ${env} (${windows.map(describeWindow).join('; ')}); next opens at ${next.toISOString()}`;
    await this.db
      .updateTable('promotion_targets')
      .set({
        state: 'QUEUED',
        lease_until: null,
        run_after: next,
        reason,
        updated_at: now,
        attempts: sql`attempts - 1`,
      })
      .where('id', '=', id)
      .execute();
    return true;
  }

  /** Works through due targets with `concurrency` workers until stop(); new work wakes them at once (notify). */
  start(): void {
    this.loop.start();
  }

  notify(): void {
    this.loop.notify();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
