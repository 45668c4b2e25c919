/**
 * Starts each blob's copy as soon as discovery names it, instead of after the whole graph is read: a platform's
 * layers stream while the next platform manifest and the referrers are still being fetched. Each blob, once: across
 * registries a HEAD at the target first (many at once, they are cheap; none for a small blob when the target
 * repository is new) and then, when absent, a transfer slot, a small blob one of its own (below); within
 * one registry a mount, as many at once as HEADs. What the HEADs found is the `blobsPresent` the pure plan is then made
 * from, so the plan records exactly what was done. The first failure aborts the rest; `settle` waits until nothing
 * is in flight, so no request outlives the copy.
 */
import { setMaxListeners } from 'node:events';
import type { Descriptor } from '../oci/manifest.ts';
import type { RepositoryClient } from '../oci/registry-client.ts';
import type { BlobCopier } from './blob-copy.ts';
import { blobAction, SMALL_BLOB, transferOrder } from './plan.ts';

/** At most `slots` tasks at once, the others queued in order of arrival. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(slots: number) {
    this.free = Math.max(1, slots);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export interface BlobPipelineOptions {
  target: RepositoryClient;
  sameRegistry: boolean;
  copy: BlobCopier;
  /** Transfers of large blobs in flight at once. */
  concurrency: number;
  /**
   * Transfers of small blobs (under SMALL_BLOB: configs, small layers) in flight at once, beside the large ones. A
   * small transfer is round trips (upload session, GET, PUT), not bandwidth: in the large blobs' slots, 100 layers of
   * 16 KiB went 6 at a time, and an index's configs held back its layers. Default: `concurrency`.
   */
  smallConcurrency?: number;
  /** HEAD requests in flight at once. */
  headConcurrency: number;
  /**
   * Resolves true when the target repository is new (the registry does not know it). Its small blobs are then sent
   * without asking first: there is nothing in it to find, and should a blob be there after all (a repository
   * with blobs but no tag), sending a small blob again costs less than asking about every one.
   */
  targetIsNew?: Promise<boolean>;
  signal?: AbortSignal;
}

export class BlobPipeline {
  /** Blobs the target was found to hold already (by HEAD). */
  readonly present = new Set<string>();
  private readonly seen = new Set<string>();
  private readonly heads: Array<Promise<void>> = [];
  private readonly copies: Array<Promise<void>> = [];
  /** Whether the target holds a blob (its HEAD, or none needed), asked once per blob, by digest. */
  private readonly lookups = new Map<string, Promise<boolean>>();
  private readonly probes: Array<Promise<void>> = [];
  /** Each blob's copy (settled, never rejected), by digest. */
  private readonly copyOf = new Map<string, Promise<void>>();
  private readonly transfers: Slots;
  private readonly smallTransfers: Slots;
  private readonly headSlots: Slots;
  private readonly controller = new AbortController();
  private failure: { error: unknown } | undefined;

  constructor(private readonly o: BlobPipelineOptions) {
    this.transfers = new Slots(o.concurrency);
    this.smallTransfers = new Slots(o.smallConcurrency ?? o.concurrency);
    this.headSlots = new Slots(o.headConcurrency);
    // Every request in flight listens on this signal; more than ten at once is normal here.
    setMaxListeners(0, this.controller.signal);
    o.signal?.addEventListener('abort', () => this.abort(o.signal?.reason), { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Starts the blobs of one image manifest (each blob once per copy): small ones first, then the largest first. */
  add(blobs: readonly Descriptor[]): void {
    const fresh = blobs.filter((b) => !this.seen.has(b.digest) && this.seen.add(b.digest));
    const steps = fresh.map((descriptor) => ({ descriptor, action: blobAction(false, this.o.sameRegistry) }));
    for (const step of steps.sort(transferOrder)) {
      if (this.o.sameRegistry) {
        // A mount is one cheap request, like a HEAD: as many at once. (A mount the registry declines streams in the
        // same slot; within one registry that is rare.)
        this.track(
          step.descriptor.digest,
          this.guard(() => this.headSlots.run(() => this.o.copy(step, this.signal))),
        );
        continue;
      }
      const head = this.guard(async () => {
        if (await this.lookup(step.descriptor)) this.present.add(step.descriptor.digest);
      });
      this.heads.push(head);
      this.track(
        step.descriptor.digest,
        head.then(() =>
          this.guard(() =>
            this.present.has(step.descriptor.digest)
              ? this.o.copy({ ...step, action: 'skip' }, this.signal)
              : (step.descriptor.size < SMALL_BLOB ? this.smallTransfers : this.transfers).run(() =>
                  this.o.copy(step, this.signal),
                ),
          ),
        ),
      );
    }
  }

  /**
   * Asks the target about blobs that may be needed: those of a manifest whose own presence at the target is still
   * being asked. Across registries only HEADs, nothing is copied; `add` then uses their answers, so when the manifest
   * turns out absent its blobs' lookups are already done (one round trip less before the first bytes flow). Within
   * one registry the blobs are mounted at once, as `add` would: a mount is one request like a HEAD, and a manifest
   * present at the target has its blobs linked there already, so mounting them again changes nothing (a promotion
   * within one registry then waits one round trip less: HEAD of the manifest, then mounts, became both at once).
   */
  probe(blobs: readonly Descriptor[]): void {
    if (this.failure) return;
    if (this.o.sameRegistry) {
      this.add(blobs);
      return;
    }
    for (const b of blobs) {
      if (this.lookups.has(b.digest)) continue;
      // Settled here (a probe nobody uses must not fail the copy) and awaited by settle(), so none outlives it.
      this.probes.push(
        this.lookup(b).then(
          () => {},
          () => {},
        ),
      );
    }
  }

  /** Resolves when every HEAD so far has answered (`present` is then complete); throws the first failure. */
  async headsDone(): Promise<void> {
    await Promise.all(this.heads);
    this.throwIfFailed();
  }

  /**
   * Resolves when these blobs are at the target (a manifest naming them can then be pushed); throws the first failure
   * of the pipeline. A digest never added waits for every blob.
   */
  async blobsDone(digests: readonly string[]): Promise<void> {
    const copies = digests.map((d) => this.copyOf.get(d));
    if (copies.includes(undefined)) await this.settle();
    else await Promise.all(copies);
    this.throwIfFailed();
  }

  /** Resolves when every blob added has been copied; throws the first failure. */
  async finish(): Promise<void> {
    await this.settle();
    this.throwIfFailed();
  }

  /** Stops what has not started and aborts what is in flight. */
  abort(reason: unknown): void {
    this.failure ??= { error: reason };
    this.controller.abort(reason);
  }

  /** Waits until nothing is in flight, failed or not. */
  async settle(): Promise<void> {
    for (let n = -1; n !== this.copies.length + this.probes.length;) {
      n = this.copies.length + this.probes.length;
      await Promise.all([...this.copies, ...this.probes]);
    }
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
    this.o.signal?.throwIfAborted();
  }

  /**
   * Whether the target holds the blob at the right size. A small blob is not asked about when the target repository
   * is new (see targetIsNew).
   */
  private lookup(d: Descriptor): Promise<boolean> {
    let found = this.lookups.get(d.digest);
    if (!found) {
      found = (async () => {
        if (d.size < SMALL_BLOB && (await this.o.targetIsNew)) return false;
        return (await this.headSlots.run(() => this.o.target.headBlob(d.digest, this.signal))) === d.size;
      })();
      this.lookups.set(d.digest, found);
    }
    return found;
  }

  private track(digest: string, copy: Promise<void>): void {
    this.copies.push(copy);
    this.copyOf.set(digest, copy);
  }

  /** Runs a task unless the pipeline has failed; its failure becomes the pipeline's. Never rejects. */
  private async guard(task: () => Promise<void>): Promise<void> {
    if (this.failure) return;
    try {
      await task();
    } catch (error) {
      this.abort(error);
    }
  }
}
