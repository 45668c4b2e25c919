// Which test files share a process under npm test, and in which order the processes start. A test process costs
// ~0.65 s of CPU before its first test (Node, the test runner, the TypeScript of src/ and its dependencies loaded and
// compiled anew), and most files spend about as long on their tests: measured on the 89 short files, running them in
// shared processes took 28 % less CPU and 27 % less wall time (143 → 103 CPU-s, 76 → 55 s). So short files run in
// groups: a group is one process that imports its files one after another, each inside a suite named after the file
// (`describe(file, () => import(file))`), so a file's top-level hooks (before, after, beforeEach) stay its own and its
// tests run after the previous file's are done. A file keeps a process of its own when sharing could change what it
// tests or how long its group takes:
// - it says so, with a line `// npm test: own process — <why>` (process-wide state, such as the environment, set
//   before its modules are imported);
// - it awaits at its top level: tests registered after such an await find no suite to belong to (its entry imports
//   it plainly);
// - it drives the shared Chromium (test/web/): long waits on a browser, better spread among other processes;
// - it took longer than LONG seconds in the last run, so a group stays short enough to balance the run.
// Every process gets an entry module, named so that its name sorts by start order: node --test sorts the files it is
// given by name, so the slowest-first order npm test wants (the run ends when its last process does, and a long one
// started near the end makes a tail) holds only through the names. Given test/… paths, the web files, the longest,
// started last.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A file that took longer than this (seconds, in the last run) runs alone. */
export const LONG = 8;
/** Groups are filled up to about this many seconds of their files' last times. */
export const GROUP_SECONDS = 20;
/** What a file not timed yet is assumed to take (seconds). */
export const UNTIMED = 3;

/**
 * A statement at column 0 that awaits (`await …`, `for await`, `const x = await …`, `const x = (await …)`): a
 * top-level await. One this misses shows in a group as "test could not be started because its parent finished";
 * give such a file the own-process line.
 */
const topLevelAwait = (text) =>
  /^(?:await\b|for\s+await\b|(?:export\s+)?(?:const|let|var)\s[^=\n]*=\s*\(?\s*await\b)/m.test(text);

/** Why a file needs a process of its own, or undefined when it can share one. */
export function ownProcessReason(file, text, seconds) {
  if (/^\/\/ npm test: own process\b/m.test(text)) return 'it says so';
  if (topLevelAwait(text)) return 'it awaits at its top level';
  if (/(^|\/)test\/web\//.test(file)) return 'it drives the browser';
  if (seconds !== undefined && seconds > LONG) return `it took ${seconds} s`;
  return undefined;
}

/**
 * The processes npm test runs, longest first: `{ files, seconds, plain? }`, one file each or a group of several;
 * `plain` for a file imported as it is, not in a suite (a top-level await). `seconds` are the files' last times
 * (undefined: not timed); `text` reads a file.
 */
export function planProcesses(files, seconds, text) {
  const alone = [];
  const shared = [];
  for (const file of files) {
    const s = seconds[file];
    const t = text(file);
    if (ownProcessReason(file, t, s) === undefined) shared.push({ file, seconds: s ?? UNTIMED });
    else alone.push({ files: [file], seconds: s ?? Infinity, ...(topLevelAwait(t) ? { plain: true } : {}) });
  }
  // Longest first into the group with the least so far (LPT), as many groups as GROUP_SECONDS asks for.
  shared.sort((a, b) => b.seconds - a.seconds || a.file.localeCompare(b.file));
  const total = shared.reduce((sum, f) => sum + f.seconds, 0);
  const count = shared.length === 0 ? 0 : Math.max(1, Math.ceil(total / GROUP_SECONDS));
  const groups = Array.from({ length: count }, () => ({ files: [], seconds: 0 }));
  for (const f of shared) {
    const g = groups.reduce((least, g) => (g.seconds < least.seconds ? g : least));
    g.files.push(f.file);
    g.seconds += f.seconds;
  }
  // More groups than files leaves some empty.
  return [...alone, ...groups.filter((g) => g.files.length > 0)].sort((a, b) => b.seconds - a.seconds);
}

/**
 * The entry modules of the processes, in `dir`, named in start order (node --test runs them sorted by name): each
 * imports its files, each in a suite named after the file (the file-times reporter times that suite as the file),
 * or plainly where `plain`.
 */
export function writeEntries(processes, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const width = String(processes.length).length;
  return processes.map((p, i) => {
    const name = p.files.length === 1 ? basename(p.files[0]).replace(/\.test\.ts$/, '') : `group-of-${p.files.length}`;
    const path = join(dir, `${String(i + 1).padStart(width, '0')}-${name}.mjs`);
    const url = (f) => JSON.stringify(pathToFileURL(resolve(f)).href);
    const lines = p.plain
      ? p.files.map((f) => `import ${url(f)};`)
      : [
          `import { describe } from 'node:test';`,
          ...p.files.map((f) => `describe(${JSON.stringify(f)}, () => import(${url(f)}));`),
        ];
    writeFileSync(path, [...lines, ''].join('\n'));
    return path;
  });
}

/** Reads a test file's text for ownProcessReason. */
export const readText = (file) => readFileSync(file, 'utf8');
