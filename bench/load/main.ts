/**
 * `npm run bench:load`: how a simple GET fares while the server is busy. An in-process hoist server (embedded
 * database, or PostgreSQL with `-- --database postgres`: a throw-away server started here) with its promotion runner
 * and a real distribution registry; a worker thread (bench/load/generator.ts) sends 50 promotion requests at once
 * and, meanwhile, 2,000 GETs of /api/v1/projects over 50 keep-alive connections. Reports the GETs' p50/p99 idle and
 * under that load, the server's event-loop delay, how many answers were 503 (backpressure), and writes JSON under
 * bench/results/. Goals: p99 ≤ 250 ms on PostgreSQL, ≤ 500 ms embedded.
 * BENCH_GETS, BENCH_PROMOTIONS and BENCH_CONNECTIONS change the sizes; BENCH_PROFILE=FILE writes a CPU profile
 * (.cpuprofile, for Chrome's DevTools) of the server's thread during the load only; `--cpu-prof` (a Node flag)
 * profiles every thread, the embedded database's too, from start to end: the load's start and end are printed in the
 * profiles' clock (µs) to cut them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HoistClient } from '../../src/client/index.ts';
import { startRegistry } from '../../test/harness/registry.ts';
import { benchBackend, startBenchServer } from '../server.ts';
import type { LoadPlan, LoadResult } from './generator.ts';
import { setUpLoadScene } from './scene.ts';
import { startRecording, summary, tracePool, traceRequests } from './pool-trace.ts';

const GETS = Number(process.env.BENCH_GETS ?? 2000);
const PROMOTIONS = Number(process.env.BENCH_PROMOTIONS ?? 50);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const GOAL_MS = { postgres: 250, embedded: 500 };
const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const round = (n: number): number => Math.round(n * 10) / 10;
const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

function load(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./generator.ts', import.meta.url), { workerData: plan });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

const backend = benchBackend();
/** BENCH_TRACE=1: where the GETs' time went (./pool-trace.ts), PostgreSQL only. */
const TRACE = process.env.BENCH_TRACE === '1' && backend === 'postgres';
if (TRACE) tracePool();
const registry = await startRegistry();
const server = await startBenchServer(backend);
if (TRACE) traceRequests(server.app.server);
try {
  const { url, token } = server;
  const c = new HoistClient(url, token);
  const digests = await setUpLoadScene(c, registry, PROMOTIONS);

  const plan = { url, token, path: '/api/v1/projects', connections: CONNECTIONS };
  process.stderr.write(`idle: ${Math.min(GETS, 500)} GETs\n`);
  const idleCpu = process.cpuUsage();
  const idle = await load({ ...plan, gets: Math.min(GETS, 500), promotions: [] });
  // CPU time of the whole process (server, database thread and the load's own thread) per GET: on a shared machine,
  // where latencies say more about the neighbours than about hoist, this compares two versions fairly.
  const idleCpuMs = cpuMs(process.cpuUsage(idleCpu)) / idle.samples.length;

  process.stderr.write(`load: ${GETS} GETs over ${CONNECTIONS} connections + ${PROMOTIONS} promotions at once\n`);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  // With --cpu-prof (which profiles every thread, the embedded database's too), these bound the load in its clock.
  process.stderr.write(`load starts at ${process.hrtime.bigint() / 1000n} µs\n`);
  const profiler = process.env.BENCH_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const busyCpu = process.cpuUsage();
  if (TRACE) startRecording();
  const busy = await load({
    ...plan,
    gets: GETS,
    promotions: digests.map((digest) => ({
      path: '/api/v1/projects/bench/applications/web/promotions',
      body: JSON.stringify({ digest, from: 'dev', to: ['staging'] }),
    })),
  });
  loop.disable();
  const trace = TRACE ? summary() : undefined;
  if (trace) process.stderr.write(`trace: ${JSON.stringify(trace, null, 2)}\n`);
  const busyCpuMs = cpuMs(process.cpuUsage(busyCpu));
  process.stderr.write(`load ends at ${process.hrtime.bigint() / 1000n} µs\n`);
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
  }
  // The promotions the server accepted end PROMOTED (a refused one, 503, was never made).
  const accepted = busy.promotionStatuses['201'] ?? 0;
  const deadline = performance.now() + 120_000;
  let promoted = 0;
  let states: Record<string, number> = {};
  let failures: string[] = [];
  while (performance.now() < deadline) {
    states = {};
    const history = await c.promotions.history('bench', { env: 'staging', limit: 1000 });
    for (const h of history) states[h.state] = (states[h.state] ?? 0) + 1;
    failures = history.filter((h) => h.state === 'FAILED').map((h) => h.reason ?? '');
    promoted = states.PROMOTED ?? 0;
    if (promoted >= accepted || promoted + (states.FAILED ?? 0) >= accepted) break;
    await new Promise((r) => setTimeout(r, 200));
  }

  for (const reason of new Set(failures)) process.stderr.write(`a promotion FAILED: ${reason}\n`);
  const goal = GOAL_MS[backend];
  // The p99 is the answered GETs' (200); a GET refused by backpressure (503) is counted, and its time shown apart.
  const answered = (r: LoadResult): number[] => r.samples.filter((x) => x.status === 200).map((x) => x.ms);
  const ok = answered(busy);
  const refused = busy.samples.filter((x) => x.status === 503).map((x) => x.ms);
  const idleMs = answered(idle);
  const result = {
    timestamp: new Date().toISOString(),
    database: backend,
    loadAverage: loadavg().map(round),
    route: 'GET /api/v1/projects',
    connections: CONNECTIONS,
    idle: {
      gets: idle.samples.length,
      p50ms: round(percentile(idleMs, 50)),
      p99ms: round(percentile(idleMs, 99)),
      cpuMsPerGet: Math.round(idleCpuMs * 100) / 100,
    },
    load: {
      gets: busy.samples.length,
      promotions: PROMOTIONS,
      seconds: round(busy.seconds),
      cpuSeconds: round(busyCpuMs / 1000),
      p50ms: round(percentile(ok, 50)),
      p99ms: round(percentile(ok, 99)),
      maxms: round(Math.max(...ok)),
      statuses: busy.statuses,
      refusedP99ms: round(percentile(refused, 99)),
      promotionStatuses: busy.promotionStatuses,
      promoted,
      states,
      eventLoopDelay: {
        p50ms: round(loop.percentile(50) / 1e6),
        p99ms: round(loop.percentile(99) / 1e6),
        maxms: round(loop.max / 1e6),
      },
    },
    ...(trace ? { trace } : {}),
    goal: `simple GET p99 ≤ ${goal} ms under load`,
  };
  process.stdout.write(
    `${backend}: GET /api/v1/projects idle p50 ${result.idle.p50ms} ms, p99 ${result.idle.p99ms} ms, ${result.idle.cpuMsPerGet} ms of CPU per GET; with ${PROMOTIONS} promotions at once: p50 ${result.load.p50ms} ms, p99 ${result.load.p99ms} ms, max ${result.load.maxms} ms, ${result.load.cpuSeconds} s of CPU (statuses ${JSON.stringify(busy.statuses)}; promotions ${JSON.stringify(busy.promotionStatuses)}, ${promoted} PROMOTED, states ${JSON.stringify(states)}); event loop delay p99 ${result.load.eventLoopDelay.p99ms} ms, max ${result.load.eventLoopDelay.maxms} ms; load average ${result.loadAverage.join(' ')}; goal p99 ≤ ${goal} ms: ${result.load.p99ms <= goal ? 'PASS' : 'MISS'}\n`,
  );
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}load-${result.timestamp.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await server.close();
  await registry.stop();
}
