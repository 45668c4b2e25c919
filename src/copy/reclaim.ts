/**
 * Keeps a streaming copy's memory flat, for a process that does little besides copying (the CLI's `hoist copy`; a
 * server's own allocation keeps its collections coming, and it has more than one thing to do).
 *
 * Every socket read hands Node a fresh buffer, and a buffer's memory goes back only when V8 collects its (tiny)
 * JavaScript object. While blobs stream, hoist allocates almost nothing on the JavaScript heap, so no collection comes
 * on its own until V8's external-memory limit forces one, at about 64 MiB of dead buffers: a 1 GiB layer peaked at
 * 87–150 MiB resident, most of it garbage. A young-generation collection after every MiB streamed frees the buffers
 * while they are still young (a scavenge of this small heap takes well under a millisecond).
 *
 * What was left above start-up (about 10 MiB) was V8's optimising compilers, whose working memory stays resident
 * once used. The JavaScript of a transfer only moves buffers between sockets and the hash (both native), so when a
 * large blob starts, the process stops optimising: measured on a 256 MiB layer, peak resident 73 → 64 MiB for about
 * 10 % more CPU in hoist (the transfer's time is the registries'). Smaller copies keep the optimisers.
 *
 * `gc` and the flags are asked of V8 at run time (Node allows it) and only when needed, so a copy with nothing to
 * stream never loads node:v8.
 */
import { createRequire } from 'node:module';
import type * as V8 from 'node:v8';
import type * as Vm from 'node:vm';

type Collect = (options: { type: 'minor' | 'major'; execution: 'sync' | 'async' }) => void;

const load = createRequire(import.meta.url);
let collect: Collect | undefined;
let lean = false;

function v8(): typeof V8 {
  return load('node:v8') as typeof V8;
}

/** V8's `gc`, exposed now if the process was not started with --expose-gc. */
function exposedGc(): Collect {
  if (collect) return collect;
  const existing = (globalThis as { gc?: Collect }).gc;
  if (existing) return (collect = existing);
  v8().setFlagsFromString('--expose-gc');
  collect = (load('node:vm') as typeof Vm).runInNewContext('gc') as Collect;
  return collect;
}

/** A blob this large makes the process stop optimising (see above). */
export const LARGE_BLOB = 256 << 20;

export class BufferReclaimer {
  private since = 0;
  /** Collections asked for so far. */
  collections = 0;

  constructor(readonly everyBytes = 1 << 20) {}

  /** Called before a blob streams. */
  blobStarting(size: number): void {
    if (size < LARGE_BLOB || lean) return;
    lean = true;
    v8().setFlagsFromString('--no-opt');
    v8().setFlagsFromString('--no-maglev');
  }

  streamed(bytes: number): void {
    this.since += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    this.collections++;
    exposedGc()({ type: 'minor', execution: 'sync' });
  }
}
