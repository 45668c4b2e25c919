/**
 * Copies one blob as a plan step says: skip it, mount it, or stream it from source to target with digest and size
 * verified on the way, each transfer retried whole on a transient failure, a source that drops or stalls failing the
 * upload at once and the transfer naming the source and blob. The upload session is opened while the source's GET is
 * on its way (one round trip, not two, before the bytes flow).
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
import type { BlobStep } from './plan.ts';
import type { BufferReclaimer } from './reclaim.ts';
import { SourceBlobFailed } from './source-failure.ts';

export interface BlobCopyOptions {
  source: ImageSource;
  target: RepositoryClient;
  /** Attempts per blob transfer (the first included). Default 3. */
  attempts?: number;
  onEvent?: CopyListener;
  /** Told of every chunk streamed, so dead buffers are collected in step with the bytes (the CLI's copy). */
  reclaim?: BufferReclaimer;
}

export interface BlobStats {
  bytesStreamed: number;
  blobsMounted: number;
  blobsStreamed: number;
  blobsSkipped: number;
}

export type BlobCopier = (step: BlobStep, signal: AbortSignal) => Promise<void>;

/** Waits between whole-transfer attempts: short, the transport has already waited out single-request failures. */
const TRANSFER_BACKOFF: Backoff = { baseDelayMs: 250, maxDelayMs: 2_000 };

/** The one transient classification, and 413: a registry that refused one big request may take the bytes in chunks. */
function retriable(e: unknown): boolean {
  return (e instanceof RegistryError && e.status === 413) || isTransient(e);
}

/** Marks a promise's rejection as handled (it is awaited later, or deliberately dropped). */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export function createBlobCopier(o: BlobCopyOptions, stats: BlobStats): BlobCopier {
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
    // The upload session is opened while the GET is on its way.
    const session = location !== undefined ? undefined : quiet(o.target.startUpload(controller.signal));
    let sessionSettled = false;
    session?.then(
      () => (sessionSettled = true),
      () => (sessionSettled = true),
    );
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
      await o.target.uploadBlob(location ?? (await (session as Promise<string>)), d, source, controller.signal);
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
      // No request of this transfer outlives it: after a failure, an upload session still being opened is given up.
      if (session !== undefined && !sessionSettled) {
        controller.abort(new Error('the transfer failed'));
        await session.catch(() => {});
      }
      signal.removeEventListener('abort', stop);
    }
  };

  const stream = async (d: Descriptor, location: string | undefined, signal: AbortSignal): Promise<void> => {
    o.reclaim?.blobStarting(d.size);
    for (let attempt = 1; ; attempt++) {
      let sent = 0;
      try {
        await transfer(d, location, signal, attempt, (n) => {
          sent += n;
          o.reclaim?.streamed(n);
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

  return async (step, signal) => {
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
}
