// A node:test reporter for npm test: after the run, each test file's time, slowest first, so the next person speeding
// the suite up starts from figures. A file's time is its whole process, from start to exit: module loading and
// top-level awaits included (the runner reports it as a `test:complete` named after the file; a file in a group,
// scripts/test-groups.mjs, as the suite named after it), not the sum of its tests, which missed loading and put every
// suite made by a helper (forEachBackend) under the helper's file. The wall time of `npm test` is bounded below by the
// slowest file, and by the sum over the concurrency.
// (Timestamps taken here would be wrong: the runner holds back other files' events while one file is reported.)
// The times are also kept in node_modules/.cache/hoist-test/file-times.json (merged, so a run of a few files updates
// theirs): scripts/test.mjs starts the slowest files first, so that no long file starts near the end.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TIMES_FILE = fileURLToPath(new URL('../node_modules/.cache/hoist-test/file-times.json', import.meta.url));
/** Where scripts/test.mjs writes the groups' entry modules. */
export const GROUPS = fileURLToPath(new URL('../node_modules/.cache/hoist-test/groups/', import.meta.url));

/** The last known time of each test file (seconds), or {} . */
export function knownFileTimes() {
  try {
    return JSON.parse(readFileSync(TIMES_FILE, 'utf8'));
  } catch {
    return {};
  }
}

function remember(times) {
  try {
    mkdirSync(dirname(TIMES_FILE), { recursive: true });
    const partial = `${TIMES_FILE}.${process.pid}`;
    writeFileSync(partial, `${JSON.stringify({ ...knownFileTimes(), ...times }, null, 1)}\n`);
    renameSync(partial, TIMES_FILE);
  } catch {
    // only an ordering hint
  }
}

export default async function* fileTimes(source) {
  const files = new Map();
  for await (const event of source) {
    if (event.type !== 'test:complete' || event.data.nesting !== 0 || event.data.file === undefined) continue;
    // The file's own process is named after the file as given on the command line; its top-level tests are not. A
    // file in a group (scripts/test-groups.mjs) is the suite named after it in the group's process.
    const own = resolve(event.data.name) === event.data.file;
    if (!event.data.name.endsWith('.test.ts') || !(own || event.data.file.startsWith(GROUPS))) continue;
    files.set(relative(process.cwd(), resolve(event.data.name)), (event.data.details?.duration_ms ?? 0) / 1000);
  }
  const rows = [...files].sort((a, b) => b[1] - a[1]);
  remember(Object.fromEntries(rows.map(([file, seconds]) => [file, Math.round(seconds * 10) / 10])));
  const total = rows.reduce((sum, [, seconds]) => sum + seconds, 0);
  yield `\ntime per test file (s, the file's whole process), slowest first; ${total.toFixed(0)} s in all:\n`;
  for (const [file, seconds] of rows) yield `${seconds.toFixed(1).padStart(8)}  ${file}\n`;
}
