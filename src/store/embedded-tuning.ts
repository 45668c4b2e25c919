/**
 * How the embedded database (PGlite, PostgreSQL compiled to WebAssembly) is run so that an idle `hoist serve` stays
 * small. Measured on an existing data directory (open, then a few hundred catalogue queries; `npm run bench:idle` for
 * the whole server):
 *
 * - V8 tiers hot WebAssembly functions up to its optimizing compiler. PostgreSQL's are huge, and compiling them took
 *   the process to 820 MB at its peak and left it at 330 MB resident; with Liftoff (the baseline compiler) only, the
 *   peak and the resident size were 270 MB, and the same queries ran no slower here (the optimizing compiler also
 *   competes for the CPU). The flags are V8's and process-wide, so they are set only when an embedded database is
 *   opened; the WebAssembly hoist runs is PGlite's alone.
 * - PostgreSQL's default shared_buffers (128 MB) is touched in full inside the WebAssembly memory; 16 MB is plenty
 *   for one server's data and took the resident size from 270 MB to 145 MB.
 *
 * HOIST_EMBEDDED_TIER_UP=on keeps V8's default tiering (throughput over memory).
 */
import v8 from 'node:v8';

/**
 * The embedded database's settings: its buffer cache is 8 MB unless HOIST_EMBEDDED_SHARED_BUFFERS names another size
 * (PostgreSQL's syntax: 32MB). A bigger cache costs resident memory from the start; it pays off with a long history:
 * at 100,000 promotions a history page read 1,355 pages from the data directory with 8 MB (bench:scale).
 */
export function embeddedPostgresSettings(env: NodeJS.ProcessEnv = process.env): string[] {
  const size = env.HOIST_EMBEDDED_SHARED_BUFFERS ?? '8MB';
  if (!/^[1-9]\d{0,5}(kB|MB|GB)$/.test(size))
    throw new Error(`HOIST_EMBEDDED_SHARED_BUFFERS=${size}: give a size such as 8MB or 64MB`);
  return ['-c', `shared_buffers=${size}`];
}

let tuned = false;

/** Turns V8's WebAssembly tier-up off, once per process, before the embedded database's module is compiled. */
export function tuneWebAssemblyForMemory(): void {
  if (tuned || process.env.HOIST_EMBEDDED_TIER_UP === 'on') return;
  tuned = true;
  v8.setFlagsFromString('--no-wasm-tier-up');
  v8.setFlagsFromString('--no-wasm-dynamic-tiering');
}
