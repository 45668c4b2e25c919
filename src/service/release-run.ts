/**
 * Carries out a claimed target of a release's promotion request, for the promotion runner (./promotion-runner.ts),
 * all or none as far as registries allow: first every application's image is copied into the target by digest (no
 * tag moves; a failed copy fails the target naming the application, and nothing users see has changed), and that is
 * recorded durably, fenced by the claim's token (`release_target_phases`); then every tag is written, each after
 * checking that the claim still holds, and the target is PROMOTED with one audit entry and one notice listing every
 * digest, and one signed attestation job per image (attached right after, ./promotion-attestor.ts). A worker that takes the target over after a crash between the two phases finds it copied and only writes
 * the tags; a tag that already names its digest is not written again, so each is written once.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { copyImage } from '../copy/copy-image.ts';
import { openRepository } from '../oci/registry.ts';
import { appendAudit } from '../store/audit.repository.ts';
import { LeaseLost } from '../store/jobs.repository.ts';
import { quarantineOf, recordLocation, recordPromoted } from '../store/promotion-jobs.repository.ts';
import type { PromotionJobRow } from '../store/promotion-jobs.repository.ts';
import {
  isCopied,
  newerPromotionOf,
  recordCopied,
  releaseJobItems,
  releasesOfRequests,
  type ReleaseJobItem,
} from '../store/releases.repository.ts';
import type { Schema } from '../store/schema.ts';
import type { Job } from './leased-queue.ts';
import type { Outbox, PromotionNotice } from './outbox.ts';
import type { PushedImage } from './own-pushes.ts';
import type { Registries } from './registries.service.ts';
import type { PromotionAttestor } from './promotion-attestor.ts';
import { jobNotice, refuseJob } from './promotion-runner.ts';

/** A release target that may not be carried out as it is: another attempt would do the same (not transient). */
export class ReleaseRefused extends Error {}

export interface ReleaseHooks {
  /** Called once every image of a target is copied and that is recorded, before any tag is written (tests pause here). */
  afterCopy?: (job: Job) => Promise<void>;
}

/**
 * The test hook of `hoist serve`: `HOIST_TEST_PAUSE_AFTER_COPY=<ms>` holds every release target that long between
 * its copies and its tags, so a test can kill the server there. Unset (always, outside tests): no hook.
 */
export function releaseTestHooks(env: NodeJS.ProcessEnv, logger?: Logger): ReleaseHooks {
  const ms = Number(env.HOIST_TEST_PAUSE_AFTER_COPY ?? '');
  if (!Number.isFinite(ms) || ms <= 0) return {};
  return {
    afterCopy: async (job) => {
      logger?.warn({ target: job.id, ms }, 'release copied; pausing before the tags (HOIST_TEST_PAUSE_AFTER_COPY)');
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
  };
}

interface Planned {
  item: ReleaseJobItem;
  repository: string;
  tag: string | null;
}

export class ReleaseRun {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
    private readonly outbox: Outbox,
    private readonly o: {
      /** Throws unless the claim still holds, for a whole lease from now (the runner's own check before a tag). */
      fence: (job: Job) => Promise<void>;
      logger: Logger;
      hooks: ReleaseHooks;
      /** Told what is about to be written (./own-pushes.ts), so the push events reporting it back are recognised. */
      remember: (p: PushedImage, environmentId: string) => void;
      /** The tag each application's image gets in the target (the runner's convention). */
      tagOf: (t: PromotionJobRow, app: string, sourceTag: string | null) => string | null;
      /** Queues every image's signed attestation with PROMOTED (./promotion-attestor.ts); none: not attested. */
      attestor?: Pick<PromotionAttestor, 'enqueue' | 'notify'>;
    },
  ) {}

  /** Carries the claimed release target out; answers the artifacts that arrived (none when it was held back). */
  async carryOut(job: Job, t: PromotionJobRow, started: Date): Promise<string[]> {
    const items = await releaseJobItems(this.db, job.id);
    if (await this.heldBack(job, t, items, started)) return [];
    const [sourceHost, targetHost] = await Promise.all([
      this.registries.open(t.srcRegistry),
      this.registries.open(t.dstRegistry),
    ]);
    const planned: Planned[] = items.map((item) => ({
      item,
      repository: t.dstRepo.replaceAll('{app}', item.application),
      tag: this.o.tagOf(t, item.application, item.sourceTag),
    }));
    const target = (p: Planned) => openRepository(targetHost, p.repository, { push: true });
    // Refused before anything is copied: a tag that may not move.
    for (const p of planned) {
      if (p.tag === null) continue;
      const existing = await target(p).headManifest(p.tag, job.signal);
      if (existing && existing.digest !== p.item.digest && (t.immutable || !t.allowMove))
        throw new ReleaseRefused(
          `${p.item.application}: tag ${p.tag} in ${t.dstName} already names ${existing.digest}, and ${t.dstName} ${t.immutable ? 'has immutable tags' : 'does not allow moving a tag to another digest'}; no tag of the release was written`,
        );
    }

    // Phase 1: every image, by digest. A failure names its application; no tag has moved.
    let bytesStreamed = 0;
    let blobsMounted = 0;
    if (!(await isCopied(this.db, job.id))) {
      for (const p of planned)
        this.o.remember({ registryId: t.dstRegistryId, repository: p.repository, digest: p.item.digest }, t.dstId);
      const copies = await Promise.allSettled(
        planned.map((p) =>
          copyImage({
            source: {
              registry: sourceHost.transport.host,
              repository: t.srcRepo.replaceAll('{app}', p.item.application),
              digest: p.item.digest,
            },
            sourceHost,
            target: { registry: targetHost.transport.host, repository: p.repository, digest: p.item.digest },
            targetHost,
            signal: job.signal,
          }),
        ),
      );
      for (const [i, c] of copies.entries()) {
        if (c.status === 'fulfilled') continue;
        const error = c.reason instanceof Error ? c.reason : new Error(String(c.reason));
        // The same error (its class decides whether it is retried), saying which application failed.
        error.message = `${planned[i]?.item.application ?? '?'}: copy to ${t.dstName} failed, so no tag of the release was written: ${error.message}`;
        throw error;
      }
      for (const c of copies)
        if (c.status === 'fulfilled') {
          bytesStreamed += c.value.bytesStreamed;
          blobsMounted += c.value.blobsMounted;
        }
      if (!(await recordCopied(this.db, job, new Date()))) throw new LeaseLost('promotion_targets', job.id);
      this.o.logger.info({ target: job.id, applications: planned.length }, 'release: every image copied');
      await this.o.hooks.afterCopy?.(job);
    } else {
      this.o.logger.info({ target: job.id }, 'release: copied by an earlier claim; writing the tags');
    }

    // Phase 2: the tags, only while the claim holds, and never back to an older image.
    for (const p of planned) {
      if (p.tag === null) continue;
      await this.o.fence(job);
      const newer = await newerPromotionOf(this.db, {
        applicationId: p.item.applicationId,
        environmentId: t.dstId,
        tag: p.tag,
        requestedAt: t.requestedAt,
      });
      if (newer)
        throw new ReleaseRefused(
          `superseded: ${t.dstName}'s tag ${p.tag} of ${p.item.application} already names ${newer.digest}, written by a newer promotion (${newer.requestId}); no tag of the release was written`,
        );
    }
    let written = 0;
    for (const p of planned) {
      if (p.tag === null) continue;
      const repo = target(p);
      if ((await repo.headManifest(p.tag, job.signal))?.digest === p.item.digest) continue;
      await this.o.fence(job);
      const manifest = await repo.getManifest(p.item.digest, job.signal);
      this.o.remember(
        { registryId: t.dstRegistryId, repository: p.repository, digest: p.item.digest, tag: p.tag },
        t.dstId,
      );
      await repo.putManifest(p.tag, manifest.bytes, manifest.mediaType, job.signal);
      written++;
    }
    await this.record(job, t, planned, { bytesStreamed, blobsMounted, written, started });
    return items.map((i) => i.artifactId);
  }

  /** PROMOTED (fenced), every application in the environment, one audit entry and one notice with every digest. */
  private async record(
    job: Job,
    t: PromotionJobRow,
    planned: readonly Planned[],
    stats: { bytesStreamed: number; blobsMounted: number; written: number; started: Date },
  ): Promise<void> {
    const at = new Date();
    const primary = planned.find((p) => p.item.artifactId === t.artifactId) ?? planned[0];
    const release = (await releasesOfRequests(this.db, [t.requestId])).get(t.requestId);
    const applications = Object.fromEntries(
      planned.map((p) => [p.item.application, { digest: p.item.digest, tag: p.tag }]),
    );
    await this.db.transaction().execute(async (trx) => {
      // The other applications arrived too (the first one's location recordPromoted writes, with the state, last).
      for (const p of planned.filter((x) => x.item.artifactId !== t.artifactId))
        await recordLocation(trx, { artifactId: p.item.artifactId, environmentId: t.dstId, tag: p.tag, at });
      // Every image gets the same signed record (naming the release), attached right after by its own job.
      const images = planned.map((p) => ({
        applicationId: p.item.applicationId,
        artifactId: p.item.artifactId,
        digest: p.item.digest,
        repository: p.repository,
        tag: p.tag,
      }));
      await this.o.attestor?.enqueue(trx, t.id, images, at);
      await recordPromoted(trx, job, {
        artifactId: t.artifactId,
        environmentId: t.dstId,
        tag: primary?.tag ?? null,
        result: {
          tag: primary?.tag ?? null,
          tags: planned.flatMap((p) => (p.tag === null ? [] : [p.tag])),
          releaseTags: Object.fromEntries(planned.map((p) => [p.item.applicationId, p.tag])),
          bytesStreamed: stats.bytesStreamed,
          blobsMounted: stats.blobsMounted,
        },
        at,
      });
      await appendAudit(trx, {
        actor: 'hoist',
        action: 'promotion.promoted',
        objectType: 'promotion',
        objectId: t.requestId,
        summary: {
          environment: t.dstName,
          release: release?.name ?? null,
          applications,
          tagsWritten: stats.written,
          bytesStreamed: stats.bytesStreamed,
          blobsMounted: stats.blobsMounted,
          seconds: (at.getTime() - stats.started.getTime()) / 1000,
          startedAt: stats.started.toISOString(),
        },
      });
      await this.outbox.add(trx, {
        ...this.notice(t, release?.name ?? '', planned),
        event: 'promotion.promoted',
        tag: primary?.tag ?? null,
      });
    });
    this.outbox.wake();
    this.o.attestor?.notify();
  }

  private notice(t: PromotionJobRow, name: string, planned: readonly Planned[]): Omit<PromotionNotice, 'event'> {
    return {
      ...jobNotice(t),
      release: { name, applications: planned.map((p) => ({ application: p.item.application, digest: p.item.digest })) },
    };
  }

  /**
   * Every application is checked as the runner checks a single one: a quarantined digest, or a repository outside
   * the project's namespaces, rejects the whole release target (naming the application).
   */
  private async heldBack(job: Job, t: PromotionJobRow, items: readonly ReleaseJobItem[], now: Date): Promise<boolean> {
    for (const item of items) {
      const q = await quarantineOf(this.db, item.digest);
      const outside = !item.srcGranted || !item.dstGranted;
      if (!q && !outside) continue;
      const reason = q
        ? `${item.application}: ${item.digest} is quarantined by ${q.by_user}: ${q.reason}`
        : `${item.application}: outside project ${t.project}'s namespaces (${t.srcName} or ${t.dstName}); an admin grants the namespace (hoist project grant-namespace), then the release is promoted again`;
      await refuseJob(this.db, this.outbox, job, t, reason, now);
      return true;
    }
    return false;
  }
}
