/**
 * `npm run bench:copy:ab -- REF`: this checkout's `hoist copy` against the one built from git REF (default `main`),
 * and skopeo, alternating run by run on the same two fresh registries, for bench:copy's scenarios (d) index of 4
 * platforms, (e) 100 small layers and (g) 6 × 20 MiB (BENCH_ONLY=d,e,g picks; BENCH_RUNS rounds, default 7).
 *
 * On a shared machine under load, wall times spread by a factor of two from run to run and a 10 % change drowns in
 * them; CPU time does not. So each run also reports the CPU time of the tool's process and of each registry process
 * (their /proc stat before and after): a change that saves round trips shows in the wall medians of a quiet window,
 * one that saves work shows in the CPU figures in any window. Prints a table and writes JSON under bench/results/.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from '../../test/harness/registry.ts';
import { buildImage, buildMultiPlatform } from '../../test/harness/images.ts';
import { pushImage } from '../../test/harness/push.ts';
import { SKOPEO_CACHE } from './tools.ts';
import { median } from './stats.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REF = process.argv.slice(2).find((a) => !a.startsWith('-')) ?? 'main';
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'd,e,g').split(','));
const MiB = 1 << 20;
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface Sample {
  wallMs: number;
  cpuMs: number;
  sourceCpuMs: number;
  targetCpuMs: number;
}

/** The registry process serving `registry` (its command line names the configuration beside its data directory). */
function registryPid(registry: TestRegistry): number {
  const dir = dirname(registry.dataDir);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('docker-registry')) && cmd.some((a) => a.startsWith(`${dir}/`))) return +entry;
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no registry process for ${registry.host}`);
}

/** User + system CPU time of a process so far, in ms. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Runs a command under /usr/bin/time; answers its wall and CPU time. */
function timed(command: string, args: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'CPU %U %S', command, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      const cpu = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      if (code !== 0 || !cpu) return reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${stderr}`));
      resolve({ wallMs, cpuMs: (Number(cpu[1]) + Number(cpu[2])) * 1000 });
    });
  });
}

/** Builds REF's bundle in a temporary directory (its sources from git, this checkout's node_modules). */
function buildRef(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-ab-'));
  execFileSync('sh', ['-c', `git -C "${ROOT}" archive "${ref}" | tar -x -C "${dir}"`], { stdio: 'inherit' });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'inherit' });
  return dir;
}

const loadAtStart = loadavg();
execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
const oldDir = buildRef(REF);
const running: TestRegistry[] = [];
const rows: Array<{ scenario: string; tool: string; samples: Sample[] }> = [];
try {
  const [A, B] = await Promise.all([startRegistry(), startRegistry()]);
  running.push(A, B);
  const [pidA, pidB] = [registryPid(A), registryPid(B)];
  const insecure = [A.host, B.host].flatMap((h) => ['--insecure-registry', h]);
  // As bin/hoist sets it: Node's compile cache for both bundles.
  process.env.NODE_COMPILE_CACHE ??= `${process.env.HOME ?? '/tmp'}/.cache/hoist/node-compile-cache`;
  let n = 0;
  const tools: Record<string, (src: string, dst: string) => [string, string[]]> = {
    [REF]: (src, dst) => [process.execPath, [join(oldDir, 'dist/hoist.mjs'), 'copy', '-q', ...insecure, src, dst]],
    this: (src, dst) => [process.execPath, [join(ROOT, 'dist/hoist.mjs'), 'copy', '-q', ...insecure, src, dst]],
    skopeo: (src, dst) => [
      'skopeo',
      ['copy', '-q', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false'].concat([
        `docker://${src}`,
        `docker://${dst}`,
      ]),
    ],
  };
  const scenarios: Array<[string, string, () => ReturnType<typeof buildImage>]> = [
    ['d', '(d) index of 4 platforms × 2 × 4 MiB', () => buildMultiPlatform(4, [4 * MiB, 4 * MiB])],
    ['e', '(e) 100 layers × 16 KiB', () => buildImage({ layers: Array.from({ length: 100 }, () => 16 * 1024) })],
    ['g', '(g) 6 layers × 20 MiB', () => buildImage({ layers: Array.from({ length: 6 }, () => 20 * MiB) })],
  ];
  for (const [key, scenario, image] of scenarios) {
    if (!ONLY.has(key)) continue;
    await pushImage(A.url, `ab/${key}`, image(), { tag: '1' });
    const src = `${A.host}/ab/${key}:1`;
    const names = Object.keys(tools);
    const run = (t: string, dst: string) =>
      timed(...(tools[t] as (s: string, d: string) => [string, string[]])(src, dst));
    // One warm-up of each (compile cache, page cache), then the rounds, the order rotating.
    for (const t of names) await run(t, `${B.host}/warm/${key}-${++n}:1`);
    const samples = new Map<string, Sample[]>(names.map((t) => [t, []]));
    for (let round = 0; round < RUNS; round++) {
      for (let i = 0; i < names.length; i++) {
        const t = names[(round + i) % names.length] as string;
        if (t === 'skopeo') rmSync(SKOPEO_CACHE, { force: true });
        const [a0, b0] = [cpuOf(pidA), cpuOf(pidB)];
        const r = await run(t, `${B.host}/ab/${key}-${++n}:1`);
        samples.get(t)?.push({ ...r, sourceCpuMs: cpuOf(pidA) - a0, targetCpuMs: cpuOf(pidB) - b0 });
      }
    }
    for (const t of names) rows.push({ scenario, tool: t, samples: samples.get(t) ?? [] });
  }
} finally {
  await Promise.all(running.map((r) => r.stop()));
  rmSync(oldDir, { recursive: true, force: true });
}

const loadAtEnd = loadavg();
const med = (s: Sample[], k: keyof Sample): number => median(s.map((x) => x[k]));
const lines = [
  `${'scenario'.padEnd(40)} ${'tool'.padEnd(8)} wall ms (median)  tool CPU ms  source CPU  target CPU`,
  ...rows.map(
    (r) =>
      `${r.scenario.padEnd(40)} ${r.tool.padEnd(8)} ${med(r.samples, 'wallMs').toFixed(0).padStart(16)} ` +
      `${med(r.samples, 'cpuMs').toFixed(0).padStart(12)} ${med(r.samples, 'sourceCpuMs').toFixed(0).padStart(11)} ` +
      `${med(r.samples, 'targetCpuMs').toFixed(0).padStart(11)}`,
  ),
  `load average: start ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}, end ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
const timestamp = new Date().toISOString();
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, `bench/results/copy-ab-${timestamp.replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ timestamp, ref: REF, runs: RUNS, loadAverage: { start: loadAtStart, end: loadAtEnd }, rows }, null, 2)}\n`,
);
process.stdout.write(`results: ${file}\n`);
