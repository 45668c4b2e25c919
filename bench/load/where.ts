/**
 * `npm run bench:load:where`: where the CPU of bench:load goes on PostgreSQL, per operation. The same scene as
 * bench/load/main.ts (in-process server, throw-away PostgreSQL with pg_stat_statements, real registry), run in three
 * phases: GETs only, promotions only (until every one is PROMOTED), then both at once as bench:load does. For each
 * phase: CPU milliseconds of the server's thread, of the load generator's thread and of the PostgreSQL server's
 * processes (from /proc), per GET and per promotion, SQL statements per operation, and the
 * statements that cost PostgreSQL the most (pg_stat_statements). On a 2-core machine shared by the three, a GET's
 * latency under load is mostly the CPU they all need: this says whose, so that a change can be aimed and compared.
 * BENCH_GETS and BENCH_PROMOTIONS change the sizes; BENCH_PROFILE_DIR=DIR writes a CPU profile of the server's thread
 * per phase there (the profiler's own cost is counted in the server's CPU then).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { HoistClient } from '../../src/client/index.ts';
import { startRegistry } from '../../test/harness/registry.ts';
import { startBenchServer } from '../server.ts';
import type { LoadPlan, LoadResult } from './generator.ts';
import { setUpLoadScene } from './scene.ts';

const GETS = Number(process.env.BENCH_GETS ?? 2000);
const PROMOTIONS = Number(process.env.BENCH_PROMOTIONS ?? 50);
const CONNECTIONS = 50;
const TICK_MS = 1000 / 100; // USER_HZ: /proc's clock ticks

process.env.HOIST_POSTGRES_PRELOAD = 'pg_stat_statements';

/** The PostgreSQL server listening on `port`: its postmaster and every process it started. */
function postgresPids(port: number): number[] {
  const pids: Array<{ pid: number; ppid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      pids.push({ pid: Number(name), ppid, cmd });
    } catch {
      // gone meanwhile
    }
  }
  const master = pids.find((p) => p.cmd.includes('/bin/postgres') && p.cmd.includes(` -p ${port} `));
  if (!master) throw new Error(`no postgres on port ${port}`);
  return [master.pid, ...pids.filter((p) => p.ppid === master.pid).map((p) => p.pid)];
}

/** CPU milliseconds used so far by `pids` (those still running; backends stay for the pool's life). */
function cpuOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return ticks * TICK_MS;
}

const threadMs = (): number => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};

function load(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./generator.ts', import.meta.url), { workerData: plan });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

const registry = await startRegistry();
const server = await startBenchServer('postgres');
try {
  const { url, token } = server;
  const port = Number(new URL(server.database.location).port);
  await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`.execute(server.uncounted);
  const c = new HoistClient(url, token);
  const digests = await setUpLoadScene(c, registry, 2 * PROMOTIONS);
  const promotion = (digest: string) => ({
    path: '/api/v1/projects/bench/applications/web/promotions',
    body: JSON.stringify({ digest, from: 'dev', to: ['staging'] }),
  });
  const plan = { url, token, path: '/api/v1/projects', connections: CONNECTIONS };
  let promotedSoFar = 0;
  const waitPromoted = async (n: number): Promise<void> => {
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline) {
      const history = await c.promotions.history('bench', { env: 'staging', limit: 1000 });
      if (history.filter((h) => h.state === 'PROMOTED' || h.state === 'FAILED').length >= n) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('promotions did not end in 120 s');
  };

  // A warm-up, so that the phases compare steady states (JIT, pool, caches).
  await load({ ...plan, gets: 500, promotions: [] });

  const phase = async (name: string, gets: number, promos: string[]): Promise<Record<string, unknown>> => {
    const pids = postgresPids(port);
    await sql`SELECT pg_stat_statements_reset()`.execute(server.uncounted);
    const profiler = process.env.BENCH_PROFILE_DIR ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const before = { server: threadMs(), pg: cpuOf(pids), t: performance.now() };
    const r = await load({ ...plan, gets, promotions: promos.map(promotion) });
    // The promotions' work goes on after their 201: wait for it (polling costs a little, counted too).
    if (promos.length > 0) await waitPromoted((promotedSoFar += promos.length));
    const after = { server: threadMs(), pg: cpuOf(postgresPids(port)), t: performance.now() };
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      const file = `${process.env.BENCH_PROFILE_DIR}/${name.replace(/\W+/g, '-')}.cpuprofile`;
      writeFileSync(file, JSON.stringify(profile));
      profiler.disconnect();
    }
    const all = await sql<{ calls: string; total: number; query: string }>`
      SELECT calls, total_exec_time AS total, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
      FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC`
      .execute(server.uncounted)
      .then((x) => x.rows);
    const calls = all.reduce((n, t) => n + Number(t.calls), 0);
    const ok = r.samples
      .filter((s) => s.status === 200)
      .map((s) => s.ms)
      .sort((a, b) => a - b);
    const p = (q: number): number => Math.round(ok[Math.min(ok.length - 1, Math.floor(q * ok.length))] ?? 0);
    const ops = gets + promos.length;
    return {
      phase: name,
      seconds: Math.round((after.t - before.t) / 100) / 10,
      gets,
      promotions: promos.length,
      getP50ms: p(0.5),
      getP99ms: p(0.99),
      cpuMs: {
        server: Math.round(after.server - before.server),
        postgres: Math.round(after.pg - before.pg),
        generator: Math.round(r.threadCpuMs),
      },
      cpuMsPerOperation: {
        server: Math.round(((after.server - before.server) / ops) * 100) / 100,
        postgres: Math.round(((after.pg - before.pg) / ops) * 100) / 100,
      },
      statementsPerOperation: Math.round((calls / ops) * 100) / 100,
      postgresExecMs: Math.round(all.reduce((n, t) => n + t.total, 0)),
      postgresTop: all.slice(0, 14).map((t) => `${t.calls}× ${Math.round(t.total)} ms  ${t.query}`),
    };
  };

  const results = [
    await phase('GETs only', GETS, []),
    await phase('promotions only', 0, digests.slice(0, PROMOTIONS)),
    await phase('both at once', GETS, digests.slice(PROMOTIONS)),
  ];
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} finally {
  await server.close();
  await registry.stop();
}
