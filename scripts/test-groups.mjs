// Which test files share a process under npm test. A test process costs ~0.65 s of CPU before its first test (Node,
// the test runner, the TypeScript of src/ and its dependencies loaded and compiled anew), and most files spend about
// as long on their tests: measured on the 89 short files, running them in shared processes took 28 % less CPU and
// 27 % less wall time (143 → 103 CPU-s, 76 → 55 s). So short files run in groups: a group is one process that imports
// its files one after another, each inside a suite named after the file (`describe(file, () => import(file))`), so a
// file's top-level hooks (before, after, beforeEach) stay its own and its tests run after the previous file's are
// done. A file keeps a process of its own when sharing could change what it tests or how long its group takes:
// - it says so, with a line `// npm test: own process — <why>` (process-wide state, such as the environment, set
//   before its modules are imported);
// - it awaits at its top level: tests registered after such an await find no suite to belong to;
// - it drives the shared Chromium (test/web/): long waits on a browser, better spread among other processes;
// - it took longer than LONG seconds in the last run, so a group stays short enough to balance the run.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A file that took longer than this (seconds, in the last run) runs alone. */
export const LONG = 8;
/** Groups are filled up to about this many seconds of their files' last times. */
export const GROUP_SECONDS = 20;
/** What a file not timed yet is assumed to take (seconds). */
export const UNTIMED = 3;

/** Why a file needs a process of its own, or undefined when it can share one. */
export function ownProcessReason(file, text, seconds) {
  if (/^\/\/ npm test: own process\b/m.test(text)) return 'it says so';
  // A line that starts at column 0 with code (not a comment) and awaits: a top-level await.
  if (/^(?![\s/*]).*\bawait\b/m.test(text)) return 'it awaits at its top level';
  if (/(^|\/)test\/web\//.test(file)) return 'it drives the browser';
  if (seconds !== undefined && seconds > LONG) return `it took ${seconds} s`;
  return undefined;
}

/**
 * The processes npm test runs, longest first: `{ files, seconds }`, one file each or a group of several.
 * `seconds` are the files' last times (undefined: not timed); `text` reads a file.
 */
export function planProcesses(files, seconds, text) {
  const alone = [];
  const shared = [];
  for (const file of files) {
    const s = seconds[file];
    if (ownProcessReason(file, text(file), s) === undefined) shared.push({ file, seconds: s ?? UNTIMED });
    else alone.push({ files: [file], seconds: s ?? Infinity });
  }
  // Longest first into the group with the least so far (LPT), as many groups as GROUP_SECONDS asks for.
  shared.sort((a, b) => b.seconds - a.seconds || a.file.localeCompare(b.file));
  const total = shared.reduce((sum, f) => sum + f.seconds, 0);
  const groups = Array.from({ length: Math.ceil(total / GROUP_SECONDS) }, () => ({ files: [], seconds: 0 }));
  for (const f of shared) {
    const g = groups.reduce((least, g) => (g.seconds < least.seconds ? g : least));
    g.files.push(f.file);
    g.seconds += f.seconds;
  }
  // A group of one is just the file.
  return [...alone, ...groups.filter((g) => g.files.length > 0)].sort((a, b) => b.seconds - a.seconds);
}

/**
 * The entry files for the processes: a file alone is itself; a group is a module written to `dir` that imports its
 * files, each in a suite named after the file (the file-times reporter times that suite as the file).
 */
export function writeEntries(processes, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return processes.map((p) => {
    if (p.files.length === 1) return p.files[0];
    const path = join(dir, `group-${++n}.mjs`);
    const lines = p.files.map(
      (f) => `describe(${JSON.stringify(f)}, () => import(${JSON.stringify(pathToFileURL(resolve(f)).href)}));`,
    );
    writeFileSync(path, [`import { describe } from 'node:test';`, ...lines, ''].join('\n'));
    return path;
  });
}

/** Reads a test file's text for ownProcessReason. */
export const readText = (file) => readFileSync(file, 'utf8');
