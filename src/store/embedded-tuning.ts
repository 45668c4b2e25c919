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

export const EMBEDDED_POSTGRES_SETTINGS = ['-c', 'shared_buffers=8MB'];

let tuned = false;

/** Turns V8's WebAssembly tier-up off, once per process, before the embedded database's module is compiled. */
export function tuneWebAssemblyForMemory(): void {
  if (tuned || process.env.HOIST_EMBEDDED_TIER_UP === 'on') return;
  tuned = true;
  v8.setFlagsFromString('--no-wasm-tier-up');
  v8.setFlagsFromString('--no-wasm-dynamic-tiering');
}
