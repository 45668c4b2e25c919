// CPU seconds per test file: runs the given test files (default: all) one at a time, each alone on the machine as far
// as this run goes, after npm test's global setup, and prints for each file the CPU time of its process tree (user +
// system of the `node --test` process and every process it waited for: registries, chromium, hoist CLI processes,
// PGlite in its workers) plus what the shared PostgreSQL spent meanwhile (its postmaster's reaped children: the
// file's backends). Wall time under load misleads on 2 cores; this is what a file costs. One JSON line per file goes
// to HOIST_TEST_CPU_OUT when set; HOIST_TEST_CPU_CMDLINES and HOIST_TEST_CPU_PROFILE are below. Build first (`npm run
// build`: the CLI tests run dist/). Usage: bash scripts/node.sh scripts/test-cpu.mjs [files...]
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setInterval, clearInterval, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { globalSetup, globalTeardown } from './test-global-setup.mjs';

const HZ = 100;
function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}
/** utime+stime and the reaped children's, of a process, in seconds. */
function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: (Number(f[11]) + Number(f[12])) / HZ, children: (Number(f[13]) + Number(f[14])) / HZ };
}
function postmaster(port) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('postgres') && cmd.includes(String(port))) return Number(pid);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error('no postmaster');
}
const pgTotal = (pid) => {
  const c = cpuOf(pid);
  let live = 0; // its live children (checkpointer, walwriter, …, backends still open)
  for (const p of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid) live += (Number(f[11]) + Number(f[12])) / HZ;
    } catch {
      // gone meanwhile
    }
  }
  return c.self + c.children + live;
};

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : testFiles('test').sort();
const t0 = Date.now();
await globalSetup();
process.stdout.write(`global setup ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
const pm = postmaster(new URL(process.env.HOIST_TEST_POSTGRES_URL).port);
const typescript = process.allowedNodeEnvironmentFlags.has('--experimental-transform-types')
  ? ['--experimental-transform-types', '--disable-warning=ExperimentalWarning']
  : ['--import', 'tsx'];
const env = {
  NODE_COMPILE_CACHE: fileURLToPath(new URL('../node_modules/.cache/hoist-test-compile', import.meta.url)),
  // Compiled request and response schemas, kept as code between processes (src/api/schema-cache.ts).
  HOIST_SCHEMA_CACHE: fileURLToPath(new URL('../node_modules/.cache/hoist-schemas', import.meta.url)),
  ...process.env,
};
let sum = 0;
// HOIST_TEST_CPU_CMDLINES: a file to write each new process's command line to (pid, ppid, command line), polled every
// 100 ms, so that process accounting (acct) records, which name only a thread, can be told apart.
const seen = new Set();
const cmdlines = process.env.HOIST_TEST_CPU_CMDLINES;
const poll = cmdlines
  ? setInterval(() => {
      const rows = [];
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid) || seen.has(pid)) continue;
        try {
          const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 300);
          if (cmd === '') continue;
          seen.add(pid);
          rows.push(JSON.stringify({ pid: Number(pid), cmd }));
        } catch {
          // gone meanwhile
        }
      }
      if (rows.length > 0) appendFileSync(cmdlines, `${rows.join('\n')}\n`);
    }, 100)
  : undefined;
for (const file of files) {
  const pg0 = pgTotal(pm);
  const start = Date.now();
  const child = spawn(
    '/usr/bin/time',
    [
      '-f',
      '%U %S %e',
      process.execPath,
      ...typescript,
      // HOIST_TEST_CPU_PROFILE: a directory for V8 CPU profiles of the file's process (the file runs without --test)
      ...(process.env.HOIST_TEST_CPU_PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.HOIST_TEST_CPU_PROFILE, file.replaceAll('/', '_'))}`]
        : ['--test', '--test-reporter=dot']),
      file,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  const end = Date.now();
  await new Promise((r) => setTimeout(r, 300)); // backends exit after their clients
  const pg = pgTotal(pm) - pg0;
  const [user, sys, wall] = err.trim().split('\n').at(-1).split(' ').map(Number);
  const row = { file, code, user, sys, pg: Math.round(pg * 100) / 100, wall, pid: child.pid, start, end };
  sum += user + sys + pg;
  process.stdout.write(
    `${(user + sys + pg).toFixed(1).padStart(7)} cpu  (${(user + sys).toFixed(1)} tree + ${pg.toFixed(1)} pg) ${wall.toFixed(1).padStart(6)} wall  ${code === 0 ? 'ok  ' : 'FAIL'} ${file}\n`,
  );
  if (code !== 0) process.stdout.write(out.slice(-3000) + err.slice(-2000));
  if (process.env.HOIST_TEST_CPU_OUT) appendFileSync(process.env.HOIST_TEST_CPU_OUT, `${JSON.stringify(row)}\n`);
}
process.stdout.write(`${sum.toFixed(0)} CPU seconds in all, ${((Date.now() - t0) / 1000).toFixed(0)} s wall\n`);
clearInterval(poll);
await globalTeardown();
