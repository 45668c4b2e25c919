/**
 * Keeps a streaming copy's memory flat. Every socket read hands Node a fresh buffer, and a buffer's memory goes back
 * only when V8 collects its (tiny) JavaScript object. While blobs stream, hoist allocates almost nothing on the
 * JavaScript heap, so no collection comes on its own until V8's external-memory limit forces one, at about 64 MiB of
 * dead buffers: a 1 GiB layer peaked at 87–150 MiB resident, most of it garbage. A young-generation collection
 * after every few MiB streamed frees the buffers while they are still young (a scavenge of this small heap takes
 * well under a millisecond). Collections are asked of V8 through `gc`, exposed at run time and only once the first
 * `everyBytes` have streamed, so a copy with nothing to stream never pays for it. Meant for a process that does
 * little besides copying (the CLI's `hoist copy`); a server's own allocation keeps its collections coming.
 */
import { createRequire } from 'node:module';
import type * as V8 from 'node:v8';
import type * as Vm from 'node:vm';

type Collect = (options: { type: 'minor' | 'major'; execution: 'sync' | 'async' }) => void;

let collect: Collect | undefined;

/** V8's `gc`, exposed now if the process was not started with --expose-gc. */
function exposedGc(): Collect {
  if (collect) return collect;
  const existing = (globalThis as { gc?: Collect }).gc;
  if (existing) return (collect = existing);
  // Loaded here, not at start-up: a copy that streams nothing never loads them.
  const load = createRequire(import.meta.url);
  (load('node:v8') as typeof V8).setFlagsFromString('--expose-gc');
  collect = (load('node:vm') as typeof Vm).runInNewContext('gc') as Collect;
  return collect;
}

export class BufferReclaimer {
  private since = 0;
  /** Collections asked for so far. */
  collections = 0;

  constructor(readonly everyBytes = 4 << 20) {}

  streamed(bytes: number): void {
    this.since += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    this.collections++;
    exposedGc()({ type: 'minor', execution: 'sync' });
  }
}
