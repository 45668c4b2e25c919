/**
 * The environment variables hoist reads, found in its sources rather than listed by hand: every `HOIST_*` name in
 * src/ and bin/hoist (flags' `.env('HOIST_…')`, `process.env.HOIST_…`, `env.HOIST_…`, messages naming one), and
 * the other names read through `env.NAME` / `process.env.NAME` or `${NAME}` in bin/hoist. A name ending in `_` is a
 * prefix (`HOIST_REGISTRY_<NAME>_PASSWORD`). Test files only (names like HOIST_TEST_*) are not hoist's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './image-cache.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

export function variablesHoistReads(): string[] {
  const found = new Set<string>();
  const texts = sources(join(ROOT, 'src')).map((file) => readFileSync(file, 'utf8'));
  // A constant of that shape (`export const HOIST_PROMOTION_V1 = …`) is no variable, wherever it is used.
  const constants = new Set(
    texts.flatMap((t) => [...t.matchAll(/\b(?:const|let)\s+(HOIST_[A-Z0-9_]*)/g)].map((m) => m[1])),
  );
  for (const text of texts) {
    for (const m of text.matchAll(/\bHOIST_[A-Z0-9_]*/g)) if (!constants.has(m[0])) found.add(m[0]);
    // Read, not set for a child process (`env.GIT_SSH_COMMAND = …`).
    for (const m of text.matchAll(/\b(?:process\.)?env\.([A-Z][A-Z0-9_]+)\b(?!\s*=[^=])/g)) found.add(m[1]!);
  }
  const bin = readFileSync(join(ROOT, 'bin', 'hoist'), 'utf8');
  for (const m of bin.matchAll(/\$\{?([A-Z][A-Z0-9_]+)/g)) found.add(m[1]!);
  return [...found].sort();
}
