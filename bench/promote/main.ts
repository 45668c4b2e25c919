/**
 * `npm run bench:promote`: N (default 200) same-registry promotions through the HTTP API of an in-process hoist
 * server on the embedded database (or PostgreSQL with `-- --database postgres`: a throw-away server started here), with
 * its promotion runner, against a real distribution registry. Reports promotions per second and p50/p99 from request
 * to PROMOTED, and writes JSON under bench/results/. Then BENCH_SEQUENTIAL (default 20) promotions one at a time, for
 * the time of one promotion on an idle server, and of its signed attestation, attached by a follow-up job after
 * PROMOTED (request → attached, and PROMOTED → attached); HOIST_ATTESTATIONS=off for comparison.
 * Targets (issue 14): ≥ 50 promotions/s embedded, ≥ 100 on PostgreSQL (with two replicas: `npm run bench:replicas`).
 * `-- --short`: 100 promotions. The SQL statements per promotion are counted (bench/sql-counter.ts).
 * (CEL evaluations per second: `npm run bench:cel`.)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { HoistClient } from '../../src/client/index.ts';
import { startRegistry } from '../../test/harness/registry.ts';
import { benchBackend, startBenchServer } from '../server.ts';
import { SqlCounter, totalStatements } from '../sql-counter.ts';
import { buildImage } from '../../test/harness/images.ts';
import { pushImage } from '../../test/harness/push.ts';

const short = process.argv.includes('--short');
const N = Number(process.env.BENCH_PROMOTIONS ?? (short ? 100 : 200));
const TARGET = { embedded: 50, postgres: 100 };
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 20);
const attestations = process.env.HOIST_ATTESTATIONS === 'off' ? 'off' : 'on';
const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

const backend = benchBackend();
const registry = await startRegistry();
const counter = new SqlCounter();
const server = await startBenchServer(backend, { counter });
try {
  const c = new HoistClient(server.url, server.token);
  await c.registries.put({ name: 'local', url: `http://${registry.host}` });
  await c.projects.create('bench');
  await c.projects.addApplication('bench', 'web');
  for (const prefix of ['dev/', 'staging/']) await c.projects.grantNamespace('bench', 'local', prefix);
  await c.environments.put('bench', { name: 'dev', kind: 'repository', registry: 'local', repository: 'dev/{app}' });
  await c.environments.put('bench', {
    name: 'staging',
    kind: 'repository',
    registry: 'local',
    repository: 'staging/{app}',
  });
  await c.environments.setPipeline('bench', [{ from: 'dev', to: 'staging' }]);

  process.stderr.write(`seeding ${N + SEQUENTIAL} images\n`);
  const digests: string[] = [];
  for (let i = 0; i < N + SEQUENTIAL; i++) {
    const img = buildImage({ layers: [4096, 1024] });
    await pushImage(registry.url, 'dev/web', img, { tag: `b${i}` });
    await c.artifacts.register('bench', 'web', { reference: `${registry.host}/dev/web:b${i}` });
    digests.push(img.digest);
  }

  // PROMOTED is seen where the runner says so, after its transaction committed (the runner's own signal): polling the
  // history from here would cost the database as much as the promotions do.
  const artifactIds = new Map<string, string>();
  for (const row of await server.database.db.selectFrom('artifacts').select(['id', 'digest']).execute())
    artifactIds.set(row.id, row.digest);
  const promotedAt = new Map<string, number>();
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const onPromoted = server.services.runner.onPromoted;
  server.services.runner.onPromoted = (artifactId, soaks) => {
    const digest = artifactIds.get(artifactId);
    if (digest !== undefined && !promotedAt.has(digest)) promotedAt.set(digest, performance.now());
    if (promotedAt.size >= N) allDone();
    onPromoted(artifactId, soaks);
  };

  process.stderr.write(`promoting ${N} images dev → staging\n`);
  const before = counter.snapshot();
  const started = performance.now();
  const requested = await Promise.all(
    digests.slice(0, N).map(async (digest) => {
      const t0 = performance.now();
      const p = await c.promotions.request('bench', 'web', { digest, from: 'dev', to: ['staging'] });
      return { id: p.id, digest, t0 };
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((r) => (timer = setTimeout(r, 120_000)))]);
  clearTimeout(timer);
  const latencies = new Map<string, number>();
  for (const r of requested) {
    const at = promotedAt.get(r.digest);
    if (at !== undefined) latencies.set(r.id, at - r.t0);
  }
  const seconds = (performance.now() - started) / 1000;
  const values = [...latencies.values()];
  const statements = counter.diff(before);
  const history = await c.promotions.history('bench', { env: 'staging', limit: 1000 });
  const notPromoted = history.filter((h) => h.state !== 'PROMOTED');
  if (notPromoted[0]) throw new Error(`promotion ${notPromoted[0].request} ended ${notPromoted[0].state}`);
  const target = TARGET[backend];
  // One at a time: request → PROMOTED of a single promotion on an otherwise idle server, and (attestations on) on to
  // the attestation attached by its follow-up job, before the next promotion is asked for.
  const single: number[] = [];
  const toAttached: number[] = [];
  const attaching: number[] = [];
  for (const digest of digests.slice(N)) {
    const t0 = performance.now();
    const p = await c.promotions.request('bench', 'web', { digest, from: 'dev', to: ['staging'] });
    for (;;) {
      const state = (await c.promotions.get('bench', p.id)).targets[0]?.state;
      if (state === 'PROMOTED') break;
      if (state === 'FAILED' || state === 'REJECTED') throw new Error(`promotion ${p.id} ended ${state}`);
      await new Promise((res) => setTimeout(res, 5));
    }
    single.push(performance.now() - t0);
    if (attestations === 'off') continue;
    for (;;) {
      const job = await server.database.db
        .selectFrom('attestation_jobs as j')
        .innerJoin('promotion_targets as t', 't.id', 'j.target_id')
        .select(['j.state', 'j.created_at', 'j.attached_at', 'j.last_error'])
        .where('t.request_id', '=', p.id)
        .executeTakeFirst();
      if (job?.state === 'ATTACHED' && job.attached_at) {
        toAttached.push(performance.now() - t0);
        // Queued with PROMOTED → attached: the follow-up job's whole time, its pick-up included.
        attaching.push(new Date(job.attached_at).getTime() - new Date(job.created_at).getTime());
        break;
      }
      if (job?.state === 'FAILED') throw new Error(`attestation of ${p.id} failed: ${job.last_error}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  }
  // The runner's own figure from the audit entries: the carry-out up to PROMOTED (copy, tag); the one-at-a-time
  // promotions only (an idle server).
  const promoted: Array<Record<string, unknown>> = [];
  let cursor: string | undefined;
  do {
    const page = await c.audit.list({ objectType: 'promotion', limit: 500, ...(cursor ? { cursor } : {}) });
    for (const e of page.items) if (e.action === 'promotion.promoted') promoted.push(e.summary);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  // Newest first: the one-at-a-time promotions are the first SEQUENTIAL.
  const lastOnes = promoted.slice(0, SEQUENTIAL);
  const carried = lastOnes.map((e) => Number(e.seconds) * 1000);
  const result = {
    timestamp: new Date().toISOString(),
    database: backend,
    promotions: N,
    completed: values.length,
    seconds: Math.round(seconds * 1000) / 1000,
    promotionsPerSecond: Math.round((values.length / seconds) * 10) / 10,
    p50ms: Math.round(percentile(values, 50)),
    p99ms: Math.round(percentile(values, 99)),
    statementsPerPromotion: Math.round((totalStatements(statements) / N) * 10) / 10,
    statements,
    loadAverage: loadavg().map((x) => Math.round(x * 10) / 10),
    attestations,
    carryOut: { p50ms: Math.round(percentile(carried, 50)), p99ms: Math.round(percentile(carried, 99)) },
    attach: attaching.length
      ? { p50ms: Math.round(percentile(attaching, 50)), p99ms: Math.round(percentile(attaching, 99)) }
      : null,
    requestToAttached: toAttached.length
      ? { p50ms: Math.round(percentile(toAttached, 50)), p99ms: Math.round(percentile(toAttached, 99)) }
      : null,
    sequential: {
      promotions: single.length,
      p50ms: Math.round(percentile(single, 50)),
      p99ms: Math.round(percentile(single, 99)),
    },
    target: `≥ ${target} promotions/s`,
    ratio: Math.round((values.length / seconds / target) * 100) / 100,
  };
  process.stdout.write(
    `${N} promotions dev → staging (same registry, ${backend} database): ${result.promotionsPerSecond} promotions/s; request → PROMOTED p50 ${result.p50ms} ms, p99 ${result.p99ms} ms; ${result.statementsPerPromotion} SQL statements per promotion; load average ${result.loadAverage.join(' ')}; ${result.ratio}× the target ≥ ${target}/s: ${result.ratio >= 1 ? 'PASS' : 'MISS'}\n` +
      `one at a time (${single.length}): request → PROMOTED p50 ${result.sequential.p50ms} ms, p99 ${result.sequential.p99ms} ms; attestations ${attestations}\n` +
      `carrying out one promotion up to PROMOTED (copy, tag): p50 ${result.carryOut.p50ms} ms, p99 ${result.carryOut.p99ms} ms` +
      (result.attach && result.requestToAttached
        ? `; then attaching the attestation (its own job, PROMOTED → attached): p50 ${result.attach.p50ms} ms, p99 ${result.attach.p99ms} ms; request → attached p50 ${result.requestToAttached.p50ms} ms, p99 ${result.requestToAttached.p99ms} ms`
        : '') +
      '\n',
  );
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}promote-${result.timestamp.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await server.close();
  await registry.stop();
}
