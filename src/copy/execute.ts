/**
 * Applies a copy plan: blobs first (blob-copy.ts: skipped, mounted, or streamed and verified, several at a time; or
 * already under way in the BlobPipeline that discovery started), then manifests wave by wave, then the referrer
 * indexes a registry without the referrers API needs, and the tags last. With a pipeline, a manifest goes as soon as
 * its own blobs are there, not after every blob: the platform manifests of an index are pushed while other platforms'
 * layers still stream. Any failure stops the copy (nothing keeps running) before the tags are written, so a tag never
 * names an incomplete image.
 */
import type { ImageSource } from '../oci/image-source.ts';
import type { Descriptor } from '../oci/manifest.ts';
import type { RepositoryClient } from '../oci/registry-client.ts';
import { createBlobCopier, type BlobStats } from './blob-copy.ts';
import type { BlobPipeline } from './blob-pipeline.ts';
import type { CopyListener } from './events.ts';
import type { CopyPlan } from './plan.ts';
import { runPool } from './pool.ts';

export interface ExecuteOptions {
  source: ImageSource;
  target: RepositoryClient;
  concurrency: number;
  /** Attempts per blob transfer (the first included). */
  attempts?: number;
  signal?: AbortSignal;
  onEvent?: CopyListener;
  /** The blobs are already under way in this pipeline (copying with `copier`, counting into `stats`). */
  started?: { blobs: BlobPipeline; stats: ExecuteStats };
  /** Called once, right before the first tag is written; a throw ends the copy with no tag written. */
  beforeTags?: () => Promise<void>;
}

export interface ExecuteStats extends BlobStats {
  manifestsPushed: number;
  referrersCopied: number;
}

export function emptyStats(): ExecuteStats {
  return {
    bytesStreamed: 0,
    blobsMounted: 0,
    blobsStreamed: 0,
    blobsSkipped: 0,
    manifestsPushed: 0,
    referrersCopied: 0,
  };
}

export async function executePlan(plan: CopyPlan, o: ExecuteOptions): Promise<ExecuteStats> {
  if (!o.started) return execute(plan, o);
  const blobs = o.started.blobs;
  try {
    return await execute(plan, o, blobs);
  } catch (e) {
    // A manifest failed while blobs were still in flight: they stop, and are done before the copy fails.
    blobs.abort(e);
    await blobs.settle();
    throw e;
  }
}

async function execute(plan: CopyPlan, o: ExecuteOptions, pipeline?: BlobPipeline): Promise<ExecuteStats> {
  const emit = o.onEvent ?? ((): void => {});
  let stats: ExecuteStats;
  if (o.started) {
    stats = o.started.stats;
  } else {
    stats = emptyStats();
    const copier = createBlobCopier(
      {
        source: o.source,
        target: o.target,
        ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
        ...(o.onEvent ? { onEvent: o.onEvent } : {}),
      },
      stats,
    );
    await runPool(plan.blobs, o.concurrency, o.signal, copier);
  }

  // When the root is the very last thing pushed, it is pushed by its first tag (the registry checks the digest):
  // one request instead of two, and the tag still comes after everything it names.
  const lastWave = plan.manifestWaves.at(-1);
  const rootTag =
    plan.referrerLinks.length === 0 && lastWave?.length === 1 && lastWave[0]?.digest === plan.rootDigest
      ? plan.tags[0]
      : undefined;
  let fenced: Promise<void> | undefined;
  const beforeTags = (): Promise<void> => (fenced ??= o.beforeTags?.() ?? Promise.resolve());
  const referrerDigests = new Set(plan.referrerLinks.map((l) => l.descriptor.digest));
  // Referrers the registry indexed itself (it answered their PUT with OCI-Subject): they need no fallback entry.
  const indexed = new Set<string>();
  for (const wave of plan.manifestWaves) {
    await runPool(wave, o.concurrency, o.signal, async (m, signal) => {
      await pipeline?.blobsDone(m.blobs);
      const byTag = m.digest === plan.rootDigest ? rootTag : undefined;
      if (byTag !== undefined) await beforeTags();
      const put = await o.target.putManifest(byTag ?? m.digest, m.bytes, m.mediaType, signal);
      if (put.subjectIndexed) indexed.add(m.digest);
      stats.manifestsPushed++;
      if (referrerDigests.has(m.digest)) stats.referrersCopied++;
      emit({ kind: 'manifest-pushed', digest: m.digest, mediaType: m.mediaType });
      if (byTag !== undefined) emit({ kind: 'tagged', tag: byTag });
    });
  }

  // Every blob is at the target (and nothing is in flight) before the referrer indexes and the tags.
  await pipeline?.finish();

  // A registry without the referrers API learns about referrers through the `sha256-<hex>` index tag, kept by clients.
  if (o.target.host.referrersApi !== true) {
    const bySubject = new Map<string, Descriptor[]>();
    for (const l of plan.referrerLinks)
      if (!indexed.has(l.descriptor.digest))
        bySubject.set(l.subject, [...(bySubject.get(l.subject) ?? []), l.descriptor]);
    for (const [subject, descriptors] of bySubject) await o.target.addToReferrersIndex(subject, descriptors, o.signal);
  }

  const tags = rootTag === undefined ? plan.tags : plan.tags.slice(1);
  if (tags.length > 0) {
    await beforeTags();
    // The root's bytes: pushed just now, or already at the target.
    const root =
      plan.manifestWaves.flat().find((m) => m.digest === plan.rootDigest) ??
      (await o.target.getManifest(plan.rootDigest, o.signal));
    for (const tag of tags) {
      await o.target.putManifest(tag, root.bytes, root.mediaType, o.signal);
      emit({ kind: 'tagged', tag });
    }
  }
  return stats;
}
