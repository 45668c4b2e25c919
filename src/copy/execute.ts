/**
 * Applies a copy plan: blobs first (mounted, or streamed from source to target with digest and size verified on
 * the way, several at a time, each transfer retried whole on a transient failure, a source that drops or stalls
 * failing the upload at once and the transfer naming the source and blob), then manifests wave by wave,
 * then the referrer indexes a registry without the referrers API needs, and the tags last. Any failure stops the
 * copy before the tags are written, so a tag never names an incomplete image.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { HoistError, NetworkError, RegistryError } from '../errors.ts';
import type { ImageSource } from '../oci/image-source.ts';
import type { Descriptor } from '../oci/manifest.ts';
import type { RepositoryClient } from '../oci/registry-client.ts';
import { attemptsOf } from '../oci/transport.ts';
import { backoffDelay, isTransient, type Backoff } from '../oci/transient.ts';
import type { CopyListener } from './events.ts';
import type { BlobStep, CopyPlan } from './plan.ts';
import { runPool } from './pool.ts';
import { SourceBlobFailed } from './source-failure.ts';

export interface ExecuteOptions {
  source: ImageSource;
  target: RepositoryClient;
  concurrency: number;
  /** Attempts per blob transfer (the first included). */
  attempts?: number;
  signal?: AbortSignal;
  onEvent?: CopyListener;
}

export interface ExecuteStats {
  bytesStreamed: number;
  blobsMounted: number;
  blobsStreamed: number;
  blobsSkipped: number;
  manifestsPushed: number;
  referrersCopied: number;
}

/** Waits between whole-transfer attempts: short, the transport has already waited out single-request failures. */
const TRANSFER_BACKOFF: Backoff = { baseDelayMs: 250, maxDelayMs: 2_000 };

/** The one transient classification, and 413: a registry that refused one big request may take the bytes in chunks. */
function retriable(e: unknown): boolean {
  return (e instanceof RegistryError && e.status === 413) || isTransient(e);
}

export async function executePlan(plan: CopyPlan, o: ExecuteOptions): Promise<ExecuteStats> {
  const stats: ExecuteStats = {
    bytesStreamed: 0,
    blobsMounted: 0,
    blobsStreamed: 0,
    blobsSkipped: 0,
    manifestsPushed: 0,
    referrersCopied: 0,
  };
  const emit = o.onEvent ?? ((): void => {});
  const attempts = o.attempts ?? 3;
  const sourceHost = o.source.origin;

  // One transfer. The source's failure aborts the upload at once: without that, an upload whose source died before
  // it started waits, headers sent, for bytes that never come, until an idle time-out (a minute) ends it.
  const transfer = async (
    d: Descriptor,
    location: string | undefined,
    signal: AbortSignal,
    attempt: number,
    onBytes: (n: number) => void,
  ): Promise<void> => {
    const controller = new AbortController();
    const stop = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    let body: Readable | undefined;
    let sourceError: unknown;
    try {
      try {
        body = await o.source.openBlob(d, controller.signal, onBytes);
      } catch (e) {
        // The transport has already retried the GET; its error names the request.
        if (e instanceof NetworkError && !signal.aborted) {
          throw new SourceBlobFailed(sourceHost, d.digest, 'before', attemptsOf(e), e);
        }
        throw e;
      }
      const source = body;
      source.once('error', (e) => {
        sourceError ??= e;
        controller.abort(e);
      });
      if (source.errored) throw source.errored;
      await o.target.uploadBlob(
        location ?? (await o.target.startUpload(controller.signal)),
        d,
        source,
        controller.signal,
      );
    } catch (e) {
      // The source's error is the cause when there is one (the upload fails with it): the verifier's digest error as
      // it is, a dropped or stalled connection named with the registry and the blob.
      const cause = sourceError ?? e;
      if (sourceError !== undefined && !(cause instanceof HoistError) && !signal.aborted) {
        throw new SourceBlobFailed(sourceHost, d.digest, 'while', attempt, cause);
      }
      throw cause;
    } finally {
      body?.destroy();
      signal.removeEventListener('abort', stop);
    }
  };

  const stream = async (d: Descriptor, location: string | undefined, signal: AbortSignal): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      let sent = 0;
      try {
        await transfer(d, location, signal, attempt, (n) => {
          sent += n;
          emit({ kind: 'blob-bytes', digest: d.digest, bytes: n });
        });
        stats.bytesStreamed += d.size;
        return;
      } catch (e) {
        const again = attempt < attempts && retriable(e) && !(e instanceof SourceBlobFailed && e.phase === 'before');
        if (signal.aborted || !again) throw e;
        emit({ kind: 'blob-bytes', digest: d.digest, bytes: -sent });
        emit({ kind: 'blob-retry', digest: d.digest, attempt, error: (e as Error).message });
        location = undefined;
        await sleep(backoffDelay(attempt - 1, TRANSFER_BACKOFF), undefined, { signal });
      }
    }
  };

  const copyBlob = async (step: BlobStep, signal: AbortSignal): Promise<void> => {
    const d = step.descriptor;
    emit({ kind: 'blob-start', digest: d.digest, size: d.size, action: step.action });
    switch (step.action) {
      case 'skip':
        stats.blobsSkipped++;
        return;
      case 'mount': {
        const r = await o.target.mountBlob(d.digest, o.source.name, signal);
        if (r.mounted) {
          stats.blobsMounted++;
          emit({ kind: 'blob-done', digest: d.digest, action: 'mounted' });
          return;
        }
        await stream(d, r.location, signal);
        break;
      }
      case 'stream':
        await stream(d, undefined, signal);
        break;
    }
    stats.blobsStreamed++;
    emit({ kind: 'blob-done', digest: d.digest, action: 'streamed' });
  };

  await runPool(plan.blobs, o.concurrency, o.signal, copyBlob);

  // When the root is the very last thing pushed, it is pushed by its first tag (the registry checks the digest):
  // one request instead of two, and the tag still comes after everything it names.
  const lastWave = plan.manifestWaves.at(-1);
  const rootTag =
    plan.referrerLinks.length === 0 && lastWave?.length === 1 && lastWave[0]?.digest === plan.rootDigest
      ? plan.tags[0]
      : undefined;
  const referrerDigests = new Set(plan.referrerLinks.map((l) => l.descriptor.digest));
  for (const wave of plan.manifestWaves) {
    await runPool(wave, o.concurrency, o.signal, async (m, signal) => {
      const byTag = m.digest === plan.rootDigest ? rootTag : undefined;
      await o.target.putManifest(byTag ?? m.digest, m.bytes, m.mediaType, signal);
      stats.manifestsPushed++;
      if (referrerDigests.has(m.digest)) stats.referrersCopied++;
      emit({ kind: 'manifest-pushed', digest: m.digest, mediaType: m.mediaType });
      if (byTag !== undefined) emit({ kind: 'tagged', tag: byTag });
    });
  }

  // A registry without the referrers API learns about referrers through the `sha256-<hex>` index tag, kept by clients.
  if (o.target.host.referrersApi !== true) {
    const bySubject = new Map<string, Descriptor[]>();
    for (const l of plan.referrerLinks) bySubject.set(l.subject, [...(bySubject.get(l.subject) ?? []), l.descriptor]);
    for (const [subject, descriptors] of bySubject) await o.target.addToReferrersIndex(subject, descriptors, o.signal);
  }

  const tags = rootTag === undefined ? plan.tags : plan.tags.slice(1);
  if (tags.length > 0) {
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
