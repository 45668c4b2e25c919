/**
 * `npm run bench:board`: latency of `GET /api/v1/projects/{project}/board` through the HTTP API of an in-process
 * hoist server, for a project of 50 applications × 6 environments with history, on the embedded database and on
 * PostgreSQL (a throw-away server started here; `-- --database embedded|postgres` runs one only). The project, its
 * environments (a soak time, a promotion window), pipeline, applications and bindings are made through the API; the
 * history (BENCH_BUILDS builds per application, default 10, each promoted as far down the pipeline as its age allows,
 * with requests, PROMOTED targets and locations, and one request per application waiting for approval into prod) is
 * written through the store, as the runner would have left it. Reports p50/p99 over BENCH_ROUNDS (default 200)
 * sequential requests after a warm-up, and writes JSON under bench/results/. Target: ≤ 50 ms p50.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { HoistClient } from '../../src/client/index.ts';
import { buildServer } from '../../src/api/server.ts';
import { createServices } from '../../src/api/services.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { openDatabase } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { startPostgres } from '../../test/harness/postgres.ts';
import { APPS, BUILDS, ENVS, seedBoardProject } from './seed.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const WARMUP = 20;
const TARGET_MS = 50;
const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const round = (ms: number): number => Math.round(ms * 100) / 100;

const chosen = process.argv.find((a) => a === 'embedded' || a === 'postgres');
const backends = chosen ? [chosen] : ['embedded', 'postgres'];

async function measure(backend: string) {
  const postgres = backend === 'postgres' ? await startPostgres() : undefined;
  const database = await openDatabase(postgres ? { url: await postgres.createDatabase() } : {});
  await migrate(database.db as never);
  const services = createServices(database, new SecretBox(randomBytes(32)), {
    outbound: OutboundPolicy.fromList('127.0.0.0/8,::1/128'),
  });
  await services.accounts.bootstrapAdmin('bench-password-1');
  const app = await buildServer(services);
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const admin = await services.accounts.login('admin', 'bench-password-1', '127.0.0.1');
    const c = new HoistClient(
      url,
      (await services.accounts.createToken({ userId: admin.id, username: 'admin' }, 'bench')).token,
    );
    const project = 'bench';
    process.stderr.write(`[${backend}] seeding ${APPS} applications × ${ENVS.length} environments\n`);
    const promotions = await seedBoardProject(c, database.db, project);

    const get = () => c.call(c.api.GET('/api/v1/projects/{project}/board', { params: { path: { project } } }));
    const first = await get();
    const cells = first.applications.reduce((n, a) => n + a.cells.length, 0);
    const bytes = JSON.stringify(first).length;
    for (let i = 0; i < WARMUP; i++) await get();
    process.stderr.write(`[${backend}] ${ROUNDS} × GET …/board (${cells} cells, ${bytes} bytes)\n`);
    const latencies: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      await get();
      latencies.push(performance.now() - t0);
    }
    const used = process.cpuUsage(cpu);
    return {
      database: backend,
      applications: APPS,
      environments: ENVS.length,
      cells,
      buildsPerApplication: BUILDS,
      promotions,
      answerBytes: bytes,
      rounds: ROUNDS,
      p50ms: round(percentile(latencies, 50)),
      p99ms: round(percentile(latencies, 99)),
      meanMs: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
      // This process's CPU per request (server and client; the database too when it is embedded): on a busy
      // machine the latencies grow with the load, this much less.
      cpuMsPerRequest: round((used.user + used.system) / 1000 / ROUNDS),
      loadAverage: Math.round(loadavg()[0]! * 10) / 10,
    };
  } finally {
    await app.close();
    await database.close();
    await postgres?.stop();
  }
}

const results = [];
for (const backend of backends) {
  const r = await measure(backend);
  results.push(r);
  process.stdout.write(
    `GET …/board, ${r.applications} applications × ${r.environments} environments (${r.promotions} promotions, ${backend} database): p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, ${r.cpuMsPerRequest} ms CPU per request (load average ${r.loadAverage}); target ≤ ${TARGET_MS} ms p50: ${r.p50ms <= TARGET_MS ? 'PASS' : 'MISS'}\n`,
  );
}
const result = { timestamp: new Date().toISOString(), target: `≤ ${TARGET_MS} ms p50`, results };
const dir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}board-${result.timestamp.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
