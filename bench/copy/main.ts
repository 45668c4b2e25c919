/**
 * `npm run bench:copy`: hoist copy against skopeo copy, side by side in one run, against the same two local CNCF
 * distribution registries. Median of BENCH_RUNS (default 5) fresh-process runs per tool and scenario, alternating
 * the tools run by run so machine noise hits both; skopeo's blob-info cache is cleared before cold runs. The HTTP
 * requests each tool sends are counted in one extra run through counting proxies. Prints a table and writes JSON
 * under bench/results/, with the load average at the start and the end (this machine is shared).
 *
 * `-- --short`: 3 runs per scenario instead of 5 (BENCH_RUNS overrides both).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from '../../test/harness/registry.ts';
import { startProxy, type TestProxy } from '../../test/harness/proxy.ts';
import { buildImage, buildMultiPlatform } from '../../test/harness/images.ts';
import { buildImageWithBlobs, getManifestRaw, pushImage, pushLargeBlob } from '../../test/harness/push.ts';
import { hoistCopy, skopeoCopy, version, type Run } from './tools.ts';
import { median, ratio } from './stats.ts';

const SHORT = process.argv.includes('--short');
const RUNS = Number(process.env.BENCH_RUNS ?? (SHORT ? 3 : 5));
const LOAD_AT_START = loadavg();
/** Peak resident memory of `hoist copy` for one 1 GiB layer (issue 14). */
const MEMORY_TARGET_MIB = 64;
/** BENCH_ONLY=a,c runs only those scenarios (letters a-g). */
const ONLY = new Set((process.env.BENCH_ONLY ?? 'a,b,c,d,e,f,g').split(','));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1 << 20;

interface Row {
  scenario: string;
  hoistMs: number[];
  skopeoMs: number[];
  hoistMedian: number;
  skopeoMedian: number;
  ratio: number;
  target: string;
  pass: boolean;
  hoistRequests?: number;
  skopeoRequests?: number;
  note?: string;
}

const rows: Row[] = [];
let A: TestRegistry, B: TestRegistry, PA: TestProxy, PB: TestProxy;
const running: Array<{ stop(): Promise<void> }> = [];
let insecure: string[] = [];
let n = 0;
const fresh = (prefix: string): string => `bench/${prefix}-${++n}:1`;
const skopeo = (src: string, dst: string, coldCache = true): Promise<Run> => skopeoCopy(src, dst, { coldCache });

async function compare(
  scenario: string,
  maxRatio: number,
  hoist: () => Promise<Run>,
  skopeo: () => Promise<Run>,
  counts?: { hoist: () => Promise<unknown>; skopeo: () => Promise<unknown>; prepare?: () => Promise<unknown> },
  note?: string,
): Promise<Row> {
  const hoistMs: number[] = [];
  const skopeoMs: number[] = [];
  // Alternate which tool goes first, so a warm page cache or a noisy moment does not favour one of them.
  for (let i = 0; i < RUNS; i++) {
    if (i % 2 === 0) {
      hoistMs.push((await hoist()).ms);
      skopeoMs.push((await skopeo()).ms);
    } else {
      skopeoMs.push((await skopeo()).ms);
      hoistMs.push((await hoist()).ms);
    }
  }
  const row: Row = {
    scenario,
    hoistMs,
    skopeoMs,
    hoistMedian: median(hoistMs),
    skopeoMedian: median(skopeoMs),
    ratio: ratio(median(hoistMs), median(skopeoMs)),
    target: `≤ ${maxRatio}×`,
    pass: median(hoistMs) / median(skopeoMs) <= maxRatio,
  };
  if (note) row.note = note;
  if (counts) {
    row.hoistRequests = await countRequests(counts.hoist, counts.prepare);
    row.skopeoRequests = await countRequests(counts.skopeo, counts.prepare);
  }
  rows.push(row);
  process.stderr.write(
    `${scenario}: hoist ${row.hoistMedian.toFixed(0)} ms, skopeo ${row.skopeoMedian.toFixed(0)} ms, ratio ${row.ratio}\n`,
  );
  return row;
}

async function countRequests(run: () => Promise<unknown>, prepare?: () => Promise<unknown>): Promise<number> {
  await prepare?.();
  PA.clear();
  PB.clear();
  await run();
  return PA.requests.length + PB.requests.length;
}

async function digestAt(registry: TestRegistry, repoTag: string): Promise<string | undefined> {
  const [repo, tag] = repoTag.split(':') as [string, string];
  return (await getManifestRaw(registry.url, repo, tag)).digest;
}

async function main(): Promise<void> {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  [A, B] = await Promise.all([startRegistry(), startRegistry()]);
  [PA, PB] = await Promise.all([startProxy(A.url), startProxy(B.url)]);
  running.push(PA, PB, A, B);
  insecure = [A.host, B.host, PA.host, PB.host];
  const hoist = (src: string, dst: string, extra: string[] = []) => hoistCopy(src, dst, insecure, extra);

  process.stderr.write('seeding the source registry\n');
  const big = buildImage({ layers: Array.from({ length: 8 }, () => 16 * MiB) });
  await pushImage(A.url, 'bench/a', big, { tag: '1' });
  const multi = buildMultiPlatform(4, [4 * MiB, 4 * MiB]);
  await pushImage(A.url, 'bench/d', multi, { tag: '1' });
  const many = buildImage({ layers: Array.from({ length: 100 }, () => 16 * 1024) });
  await pushImage(A.url, 'bench/e', many, { tag: '1' });

  // (a) cross-registry, 8 × 16 MiB
  if (ONLY.has('a'))
    await compare(
      '(a) cross-registry, 8 layers × 16 MiB',
      0.85,
      () => hoist(`${A.host}/bench/a:1`, `${B.host}/${fresh('a-hoist')}`),
      () => skopeo(`${A.host}/bench/a:1`, `${B.host}/${fresh('a-skopeo')}`),
      {
        hoist: () => hoist(`${PA.host}/bench/a:1`, `${PB.host}/${fresh('a-hoist')}`),
        skopeo: () => skopeo(`${PA.host}/bench/a:1`, `${PB.host}/${fresh('a-skopeo')}`),
      },
    );

  // (b) same registry, another repository: cold and warm skopeo cache
  const bCounts = {
    hoist: () => hoist(`${PA.host}/bench/a:1`, `${PA.host}/${fresh('b-hoist')}`),
    skopeo: () => skopeo(`${PA.host}/bench/a:1`, `${PA.host}/${fresh('b-skopeo')}`),
  };
  if (ONLY.has('b'))
    await compare(
      '(b) same registry, skopeo cache cold',
      0.3,
      () => hoist(`${A.host}/bench/a:1`, `${A.host}/${fresh('b-hoist')}`),
      () => skopeo(`${A.host}/bench/a:1`, `${A.host}/${fresh('b-skopeo')}`),
      bCounts,
    );
  if (ONLY.has('b')) await skopeo(`${A.host}/bench/a:1`, `${A.host}/${fresh('b-warmup')}`);
  if (ONLY.has('b'))
    await compare(
      '(b) same registry, skopeo cache warm',
      1.0,
      () => hoist(`${A.host}/bench/a:1`, `${A.host}/${fresh('b-hoist')}`),
      () => skopeo(`${A.host}/bench/a:1`, `${A.host}/${fresh('b-skopeo')}`, false),
      { hoist: bCounts.hoist, skopeo: () => skopeo(`${PA.host}/bench/a:1`, `${PA.host}/${fresh('b-skopeo')}`, false) },
    );

  // (c) re-copy of an image already present
  await hoist(`${A.host}/bench/a:1`, `${B.host}/bench/c:1`);
  await hoist(`${PA.host}/bench/a:1`, `${PB.host}/bench/c-count:1`);
  const cCounts = (extra: string[]) => ({
    hoist: () => hoist(`${PA.host}/bench/a:1`, `${PB.host}/bench/c-count:1`, extra),
    skopeo: () => skopeo(`${PA.host}/bench/a:1`, `${PB.host}/bench/c-count:1`),
  });
  if (ONLY.has('c'))
    await compare(
      '(c) re-copy, present (--no-referrers)',
      1.5,
      () => hoist(`${A.host}/bench/a:1`, `${B.host}/bench/c:1`, ['--no-referrers']),
      () => skopeo(`${A.host}/bench/a:1`, `${B.host}/bench/c:1`),
      cCounts(['--no-referrers']),
    );
  if (ONLY.has('c'))
    await compare(
      '(c) re-copy, present (default: referrers checked)',
      1.5,
      () => hoist(`${A.host}/bench/a:1`, `${B.host}/bench/c:1`),
      () => skopeo(`${A.host}/bench/a:1`, `${B.host}/bench/c:1`),
      cCounts([]),
      'skopeo does not look for referrers; hoist also checks for new signatures/SBOMs',
    );

  // (d) an index of 4 platforms
  if (ONLY.has('d'))
    await compare(
      '(d) index of 4 platforms × 2 × 4 MiB',
      0.6,
      () => hoist(`${A.host}/bench/d:1`, `${B.host}/${fresh('d-hoist')}`),
      () => skopeo(`${A.host}/bench/d:1`, `${B.host}/${fresh('d-skopeo')}`),
      {
        hoist: () => hoist(`${PA.host}/bench/d:1`, `${PB.host}/${fresh('d-hoist')}`),
        skopeo: () => skopeo(`${PA.host}/bench/d:1`, `${PB.host}/${fresh('d-skopeo')}`),
      },
    );

  // (e) 100 small layers
  if (ONLY.has('e'))
    await compare(
      '(e) 100 layers × 16 KiB',
      0.6,
      () => hoist(`${A.host}/bench/e:1`, `${B.host}/${fresh('e-hoist')}`),
      () => skopeo(`${A.host}/bench/e:1`, `${B.host}/${fresh('e-skopeo')}`),
      {
        hoist: () => hoist(`${PA.host}/bench/e:1`, `${PB.host}/${fresh('e-hoist')}`),
        skopeo: () => skopeo(`${PA.host}/bench/e:1`, `${PB.host}/${fresh('e-skopeo')}`),
      },
    );

  // (g) held out: an image no other scenario uses, on two registries started for it, the whole `bin/hoist` process
  // with the environment as the user has it; then the same without the CA file, for the second figure.
  if (ONLY.has('g')) await heldOut();

  // (f) memory for one 1 GiB layer
  report(ONLY.has('f') ? await memoryScenario() : undefined);
}

async function heldOut(): Promise<void> {
  const [G1, G2] = await Promise.all([startRegistry(), startRegistry()]);
  running.push(G1, G2);
  const hosts = [...insecure, G1.host, G2.host];
  const image = buildImage({ layers: Array.from({ length: 6 }, () => 20 * MiB) });
  await pushImage(G1.url, 'held/out', image, { tag: '1' });
  for (const withoutCaFile of [false, true])
    await compare(
      `(g) held out, 6 layers × 20 MiB, whole process${withoutCaFile ? ' (no NODE_EXTRA_CA_CERTS)' : ''}`,
      1.0,
      () => hoistCopy(`${G1.host}/held/out:1`, `${G2.host}/${fresh('g-hoist')}`, hosts, [], { withoutCaFile }),
      () => skopeo(`${G1.host}/held/out:1`, `${G2.host}/${fresh('g-skopeo')}`),
      undefined,
      process.env.NODE_EXTRA_CA_CERTS && !withoutCaFile
        ? `NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`
        : undefined,
    );
}

async function memoryScenario(): Promise<Record<string, unknown>> {
  process.stderr.write('seeding a 1 GiB layer\n');
  const layer = await pushLargeBlob(A.url, 'bench/f', 1024 * MiB);
  const huge = buildImageWithBlobs([layer]);
  await pushImage(A.url, 'bench/f', huge, { tag: '1' });
  const hf = await hoistCopy(`${A.host}/bench/f:1`, `${B.host}/bench/f-hoist:1`, insecure, [], {
    measureMemory: true,
  });
  const sf = await skopeoCopy(`${A.host}/bench/f:1`, `${B.host}/bench/f-skopeo:1`, {
    coldCache: true,
    measureMemory: true,
  });
  const copied = (await digestAt(B, 'bench/f-hoist:1')) === huge.digest;
  return {
    hoistMaxRssMiB: Math.round((hf.maxRssKiB ?? 0) / 1024),
    skopeoMaxRssMiB: Math.round((sf.maxRssKiB ?? 0) / 1024),
    hoistSeconds: Math.round(hf.ms) / 1000,
    skopeoSeconds: Math.round(sf.ms) / 1000,
    copiedDigestVerified: copied,
    target: `≤ ${MEMORY_TARGET_MIB} MiB`,
    pass: copied && (hf.maxRssKiB ?? Infinity) / 1024 <= MEMORY_TARGET_MIB,
  };
}

function report(memory: Record<string, unknown> | undefined): void {
  const pad = (s: string, w: number): string => s.padEnd(w);
  const lines = [
    `${pad('scenario', 52)} ${pad('hoist s', 8)} ${pad('skopeo s', 9)} ${pad('ratio', 6)} ${pad('target', 8)} ${pad('result', 6)} requests hoist/skopeo`,
    ...rows.map(
      (r) =>
        `${pad(r.scenario, 52)} ${pad((r.hoistMedian / 1000).toFixed(3), 8)} ${pad((r.skopeoMedian / 1000).toFixed(3), 9)} ${pad(r.ratio.toFixed(2), 6)} ${pad(r.target, 8)} ${pad(r.pass ? 'PASS' : 'MISS', 6)} ${r.hoistRequests ?? '-'}/${r.skopeoRequests ?? '-'}`,
    ),
    memory === undefined
      ? ''
      : `(f) 1 GiB layer: hoist peak RSS ${String(memory.hoistMaxRssMiB)} MiB in ${String(memory.hoistSeconds)} s, skopeo ${String(memory.skopeoMaxRssMiB)} MiB in ${String(memory.skopeoSeconds)} s; target ${String(memory.target)}: ${memory.pass ? 'PASS' : 'MISS'}`,
  ];
  lines.push(
    `load average: start ${LOAD_AT_START.map((l) => l.toFixed(2)).join(' ')}, end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  const results = {
    timestamp: new Date().toISOString(),
    runs: RUNS,
    short: SHORT,
    machine: { cores: availableParallelism(), node: process.version },
    loadAverage: { start: LOAD_AT_START, end: loadavg() },
    rows,
    memory,
  };
  mkdirSync(`${ROOT}/bench/results`, { recursive: true });
  const file = `${ROOT}/bench/results/copy-${results.timestamp.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
}

try {
  process.stderr.write(`skopeo: ${await version('skopeo', ['--version'])}\n`);
  await main();
} finally {
  await Promise.all(running.map((r) => r.stop()));
}
