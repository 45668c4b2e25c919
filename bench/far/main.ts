/**
 * `npm run bench:far`: hoist copy against skopeo copy between two registries that are far away. Two local CNCF
 * distribution registries each sit behind a latency-injecting TCP proxy (latency-proxy.ts: 25 ms each way, a 50 ms
 * round trip, a 2 MiB window per direction of a connection); both tools copy the same images from one proxy to the
 * other, into a fresh repository every run (skopeo's blob-info cache cleared, so neither can mount or skip), whole
 * processes, alternating which goes first. Median of BENCH_RUNS runs (5; `-- --short`: 3). Target: hoist ≤ 0.7×
 * skopeo. Prints a table and writes JSON under bench/results/.
 *
 * BENCH_FAR_RTT_MS (50) and BENCH_FAR_WINDOW_KIB (2048) change the path.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';
import { startRegistry, type TestRegistry } from '../../test/harness/registry.ts';
import { buildImage, buildMultiPlatform, type TestManifest } from '../../test/harness/images.ts';
import { getManifestRaw, pushImage } from '../../test/harness/push.ts';
import { hoistCopy, skopeoCopy, version, type Run } from '../copy/tools.ts';
import { median, ratio } from '../copy/stats.ts';
import { startLatencyProxy, type LatencyProxy } from './latency-proxy.ts';

const SHORT = process.argv.includes('--short');
const RUNS = Number(process.env.BENCH_RUNS ?? (SHORT ? 3 : 5));
const RTT_MS = Number(process.env.BENCH_FAR_RTT_MS ?? 50);
const WINDOW = Number(process.env.BENCH_FAR_WINDOW_KIB ?? 2048) * 1024;
const TARGET = 0.7;
const LOAD_AT_START = loadavg();
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
}

/** One GET /v2/ through a proxy on a new connection and one on the same: what a request costs on this path. */
function roundTrips(host: string): Promise<{ firstMs: number; reusedMs: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const once = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      request(`http://${host}/v2/`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - started));
      })
        .on('error', reject)
        .end();
    });
  return once().then(async (firstMs) => {
    const reusedMs = await once();
    agent.destroy();
    return { firstMs: Math.round(firstMs), reusedMs: Math.round(reusedMs) };
  });
}

async function main(): Promise<void> {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  const running: Array<{ stop(): Promise<void> }> = [];
  try {
    const [A, B]: TestRegistry[] = await Promise.all([startRegistry(), startRegistry()]);
    running.push(A as TestRegistry, B as TestRegistry);
    const options = { oneWayMs: RTT_MS / 2, windowBytes: WINDOW };
    const [FA, FB]: LatencyProxy[] = await Promise.all([
      startLatencyProxy((A as TestRegistry).url, options),
      startLatencyProxy((B as TestRegistry).url, options),
    ]);
    running.unshift(FA as LatencyProxy, FB as LatencyProxy);
    const far = { source: (FA as LatencyProxy).host, target: (FB as LatencyProxy).host };
    const path = await roundTrips(far.source);
    process.stderr.write(`path: new connection ${path.firstMs} ms, reused ${path.reusedMs} ms per request\n`);

    process.stderr.write('seeding the source registry\n');
    const images: Array<{ name: string; scenario: string; image: TestManifest }> = [
      {
        name: 'layers',
        scenario: 'image, 6 layers × 8 MiB',
        image: buildImage({ layers: Array.from({ length: 6 }, () => 8 * MiB) }),
      },
      { name: 'index', scenario: 'index of 4 platforms × 2 × 1 MiB', image: buildMultiPlatform(4, [MiB, MiB]) },
      {
        name: 'small',
        scenario: 'image, 30 layers × 16 KiB',
        image: buildImage({ layers: Array.from({ length: 30 }, () => 16 * 1024) }),
      },
    ];
    for (const i of images) await pushImage((A as TestRegistry).url, `far/${i.name}`, i.image, { tag: '1' });

    const rows: Row[] = [];
    const insecure = [far.source, far.target];
    let n = 0;
    for (const { name, scenario, image } of images) {
      const hoistMs: number[] = [];
      const skopeoMs: number[] = [];
      const runHoist = async (): Promise<void> => {
        const repo = `far/${name}-hoist-${++n}`;
        const run: Run = await hoistCopy(`${far.source}/far/${name}:1`, `${far.target}/${repo}:1`, insecure);
        const copied = (await getManifestRaw((B as TestRegistry).url, repo, '1')).digest;
        if (copied !== image.digest) throw new Error(`hoist copied ${copied}, not ${image.digest}`);
        hoistMs.push(run.ms);
      };
      const runSkopeo = async (): Promise<void> => {
        const repo = `far/${name}-skopeo-${++n}`;
        const run = await skopeoCopy(`${far.source}/far/${name}:1`, `${far.target}/${repo}:1`, { coldCache: true });
        skopeoMs.push(run.ms);
      };
      for (let i = 0; i < RUNS; i++) {
        if (i % 2 === 0) {
          await runHoist();
          await runSkopeo();
        } else {
          await runSkopeo();
          await runHoist();
        }
      }
      const row: Row = {
        scenario: `(far) ${scenario}`,
        hoistMs: hoistMs.map(Math.round),
        skopeoMs: skopeoMs.map(Math.round),
        hoistMedian: Math.round(median(hoistMs)),
        skopeoMedian: Math.round(median(skopeoMs)),
        ratio: ratio(median(hoistMs), median(skopeoMs)),
        target: `≤ ${TARGET}×`,
        pass: median(hoistMs) / median(skopeoMs) <= TARGET,
      };
      rows.push(row);
      process.stderr.write(
        `${row.scenario}: hoist ${row.hoistMedian} ms, skopeo ${row.skopeoMedian} ms, ${row.ratio}×\n`,
      );
    }

    const pad = (s: string, w: number): string => s.padEnd(w);
    const lines = [
      `far registries: ${RTT_MS} ms round trip, ${WINDOW / 1024} KiB window; ${RUNS} runs; load at start ${LOAD_AT_START.map((l) => l.toFixed(2)).join(' ')}, end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
      `${pad('scenario', 48)} ${pad('hoist s', 8)} ${pad('skopeo s', 9)} ${pad('ratio', 6)} ${pad('target', 8)} result`,
      ...rows.map(
        (r) =>
          `${pad(r.scenario, 48)} ${pad((r.hoistMedian / 1000).toFixed(3), 8)} ${pad((r.skopeoMedian / 1000).toFixed(3), 9)} ${pad(r.ratio.toFixed(2), 6)} ${pad(r.target, 8)} ${r.pass ? 'PASS' : 'MISS'}`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const results = {
      timestamp: new Date().toISOString(),
      runs: RUNS,
      short: SHORT,
      path: { roundTripMs: RTT_MS, windowBytes: WINDOW, measured: path },
      machine: { cores: availableParallelism(), node: process.version },
      loadAverage: { start: LOAD_AT_START, end: loadavg() },
      skopeo: await version('skopeo', ['--version']),
      rows,
    };
    mkdirSync(`${ROOT}/bench/results`, { recursive: true });
    const file = `${ROOT}/bench/results/far-${results.timestamp.replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`results: ${file}\n`);
  } finally {
    for (const r of running) await r.stop();
  }
}

await main();
