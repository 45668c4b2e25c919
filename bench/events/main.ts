/**
 * `npm run bench:events`: the event path and a single promotion's latency. An in-process hoist server (embedded
 * database, or PostgreSQL with `-- --database postgres`), its intake queue and promotion runner, and a real
 * distribution registry whose `notifications` point at hoist, with a rule dev → staging.
 *   1. Idle: K (default 10) promotions requested one at a time through the API, each on an idle server; from the
 *      request sent to PROMOTED committed. Target ≤ 150 ms (same registry).
 *   2. N (default 50) images pushed one at a time to dev; from push complete (manifest PUT answered) to PROMOTED in
 *      staging. Targets p50 ≤ 100 ms, p99 ≤ 250 ms.
 *   3. A burst of B (default 100) images pushed at once (20 at a time); until all are PROMOTED. Target ≤ 5 s, each
 *      promoted once: one PROMOTED target, one `promotion.promoted` audit entry and one tag write in staging (the
 *      registry's own push events for staging/web, which hoist records, count the manifest writes) per image.
 * For every phase the SQL statements the server sent per promotion (bench/sql-counter.ts), and the load average.
 * `-- --short` runs K=5, N=20, B=100. `BENCH_PROFILE=FILE` writes a CPU profile of the server's thread over phases
 * 2 and 3. Writes JSON under bench/results/ and prints each figure's ratio to its target.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { HoistClient } from '../../src/client/index.ts';
import { startRegistry } from '../../test/harness/registry.ts';
import { buildImage } from '../../test/harness/images.ts';
import { pushImage } from '../../test/harness/push.ts';
import { benchBackend, startBenchServer } from '../server.ts';
import { SqlCounter, totalStatements } from '../sql-counter.ts';
import { Timeline } from './timeline.ts';

const short = process.argv.includes('--short');
const K = Number(process.env.BENCH_IDLE ?? (short ? 5 : 10));
const N = Number(process.env.BENCH_PUSHES ?? (short ? 20 : 50));
const BURST = Number(process.env.BENCH_BURST ?? 100);
const SECRET = randomBytes(24).toString('hex');
/** `BENCH_PULLS=1`: the registry notifies pulls too (its default), as it did before the README advised otherwise. */
const BENCH_PULLS = process.env.BENCH_PULLS === '1';
/** `-- --timeline`: print where each phase's time goes, stage by stage (bench/events/timeline.ts). */
const timeline = process.argv.includes('--timeline') ? new Timeline() : undefined;
const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const round = (x: number): number => Math.round(x * 10) / 10;
const load = (): number[] => loadavg().map(round);

const backend = benchBackend();
const counter = new SqlCounter();
const server = await startBenchServer(backend, { counter, intake: true });
const registry = await startRegistry({
  notificationsUrl: `${server.url}/api/v1/hooks/distribution`,
  notificationHeaders: { Authorization: `Bearer ${SECRET}` },
  // As the README advises: hoist ignores pulls, and a registry sends its notifications one at a time, so every pull
  // notified (hoist's own reads of the images it inspects and copies) delays the next push's event.
  ...(BENCH_PULLS ? {} : { notificationIgnoredActions: ['pull'] }),
  // As the README advises too: blob pushes and mounts (media type application/octet-stream) are no images, and hoist
  // ignores them; notified, each delays the next push's event. `BENCH_BLOBS=1` has them notified (the default).
  ...(process.env.BENCH_BLOBS === '1' ? {} : { notificationIgnoredMediaTypes: ['application/octet-stream'] }),
});
const { services } = server;
timeline?.install(services);
timeline?.watchHooks(server.app.server);

const db = server.uncounted;

/**
 * When each digest became PROMOTED (the runner's own signal, after its transaction committed; the time is taken before
 * the bench asks which digest the artifact is), and who waits for which.
 */
const promotedAt = new Map<string, number>();
const waiters = new Map<string, () => void>();
const onPromoted = services.runner.onPromoted;
services.runner.onPromoted = (artifactId) => {
  const at = performance.now();
  onPromoted(artifactId);
  void db
    .selectFrom('artifacts')
    .select('digest')
    .where('id', '=', artifactId)
    .executeTakeFirst()
    .then((row) => {
      if (!row || promotedAt.has(row.digest)) return;
      promotedAt.set(row.digest, at);
      timeline?.mark(row.digest, 'promoted', at);
      waiters.get(row.digest)?.();
    });
};

/** Resolves with the time the digest was PROMOTED. */
async function promoted(digest: string, timeoutMs: number): Promise<number> {
  if (!promotedAt.has(digest)) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      waiters.set(digest, resolve);
      timer = setTimeout(() => reject(new Error(`${digest} was not promoted within ${timeoutMs} ms`)), timeoutMs);
    }).finally(() => {
      clearTimeout(timer);
      waiters.delete(digest);
    });
  }
  return promotedAt.get(digest) as number;
}

const phases: Record<string, unknown> = {};
let profiler: Session | undefined;
try {
  const c = new HoistClient(server.url, server.token);
  await c.registries.put({ name: 'local', url: `http://${registry.host}` });
  await c.events.setSecret('local', 'distribution', SECRET);
  await c.projects.create('bench');
  await c.projects.addApplication('bench', 'web');
  for (const prefix of ['dev/', 'staging/', 'idle/', 'idlestaging/'])
    await c.projects.grantNamespace('bench', 'local', prefix);
  for (const name of ['dev', 'staging', 'idle', 'idlestaging'])
    await c.environments.put('bench', { name, kind: 'repository', registry: 'local', repository: `${name}/{app}` });
  await c.environments.setPipeline('bench', [
    { from: 'dev', to: 'staging' },
    { from: 'idle', to: 'idlestaging' },
  ]);
  await c.rules.create('bench', {
    name: 'flow',
    from: 'dev',
    to: 'staging',
    criteria: [{ field: 'tag', op: 'startsWith', value: 'b' }],
  });

  // 1. A single promotion on an idle server (the images pushed first; their push events register them).
  process.stderr.write(`1. ${K} single promotions on an idle server\n`);
  const idleDigests: string[] = [];
  for (let i = 0; i < K; i++) {
    const img = buildImage({ layers: [4096, 1024] });
    await pushImage(registry.url, 'idle/web', img, { tag: `i${i}` });
    idleDigests.push(img.digest);
  }
  for (const digest of idleDigests)
    for (
      let tries = 0;
      !(await db.selectFrom('artifacts').select('id').where('digest', '=', digest).executeTakeFirst());
    )
      if (++tries > 1000) throw new Error(`the push of ${digest} was not recorded`);
      else await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1000));
  const idleMs: number[] = [];
  timeline?.clear();
  let before = counter.snapshot();
  for (const digest of idleDigests) {
    const t0 = performance.now();
    timeline?.mark(digest, 'request.start', t0);
    await c.promotions.request('bench', 'web', { digest, from: 'idle', to: ['idlestaging'] });
    idleMs.push((await promoted(digest, 30_000)) - t0);
    // Let the promotion's own push event and the automation settle: the next request finds an idle server.
    await new Promise((r) => setTimeout(r, 500));
  }
  const idleSql = counter.diff(before);
  if (timeline) process.stderr.write(`timeline, idle request → PROMOTED:\n${timeline.report('request.start')}\n`);
  phases.idle = {
    promotions: K,
    p50ms: round(percentile(idleMs, 50)),
    maxms: round(Math.max(...idleMs)),
    samplesMs: idleMs.map(round),
    statementsPerPromotion: round(totalStatements(idleSql) / K),
    statements: idleSql,
    loadAverage: load(),
  };

  if (process.env.BENCH_PROFILE) {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }

  // 2. Pushes one at a time.
  process.stderr.write(`2. ${N} pushes one at a time, push complete → PROMOTED in staging\n`);
  timeline?.clear();
  before = counter.snapshot();
  const latencies: number[] = [];
  for (let i = 0; i < N; i++) {
    const img = buildImage({ layers: [4096] });
    await pushImage(registry.url, 'dev/web', img, { tag: `b${i}` });
    const t0 = performance.now();
    timeline?.mark(img.digest, 'pushed', t0);
    latencies.push((await promoted(img.digest, 30_000)) - t0);
    await new Promise((r) => setTimeout(r, 300));
  }
  const eventsSql = counter.diff(before);
  if (timeline) process.stderr.write(`timeline, push → PROMOTED:\n${timeline.report('pushed')}\n`);
  phases.pushes = {
    pushes: N,
    p50ms: round(percentile(latencies, 50)),
    p99ms: round(percentile(latencies, 99)),
    maxms: round(Math.max(...latencies)),
    statementsPerPush: round(totalStatements(eventsSql) / N),
    statements: eventsSql,
    loadAverage: load(),
  };

  // 3. A burst.
  process.stderr.write(`3. a burst of ${BURST} pushes at once\n`);
  await new Promise((r) => setTimeout(r, 1000));
  timeline?.clear();
  before = counter.snapshot();
  const images = Array.from({ length: BURST }, () => buildImage({ layers: [2048] }));
  const burstStart = performance.now();
  for (let i = 0; i < BURST; i += 20)
    await Promise.all(
      images
        .slice(i, i + 20)
        .map((img, k) =>
          pushImage(registry.url, 'dev/web', img, { tag: `burst${i + k}` }).then(() =>
            timeline?.mark(img.digest, 'pushed'),
          ),
        ),
    );
  const pushedIn = performance.now() - burstStart;
  let burstError: string | undefined;
  const done = await Promise.all(
    images.map((img) =>
      promoted(img.digest, 120_000).catch((e: Error) => {
        burstError = e.message;
        return Number.NaN;
      }),
    ),
  );
  const burstSeconds = (Math.max(...done.filter((x) => !Number.isNaN(x))) - burstStart) / 1000;
  // Let hoist's own pushes come back as events, so that every tag write is counted.
  await new Promise((r) => setTimeout(r, 3000));
  const burstSql = counter.diff(before);
  if (timeline && process.env.BENCH_DUMP)
    writeFileSync(process.env.BENCH_DUMP, JSON.stringify({ arrivals: timeline.arrivals, hooks: timeline.hooks }));
  if (timeline)
    process.stderr.write(`timeline, burst (from each image's push complete):\n${timeline.report('pushed')}\n`);
  const digests = images.map((i) => i.digest);
  const targets = await sql<{ digest: string; n: string }>`
    SELECT r.digest, count(*) AS n FROM promotion_targets t JOIN promotion_requests r ON r.id = t.request_id
    JOIN environments e ON e.id = t.environment_id
    WHERE e.name = 'staging' AND t.state = 'PROMOTED' AND r.digest = ANY(${digests}) GROUP BY r.digest`.execute(db);
  const audits = await sql<{ digest: string; n: string }>`
    SELECT summary->>'digest' AS digest, count(*) AS n FROM audit_log
    WHERE action = 'promotion.promoted' AND summary->>'digest' = ANY(${digests}) GROUP BY 1`.execute(db);
  const writes = await sql<{ digest: string; n: string }>`
    SELECT digest, count(*) AS n FROM push_events WHERE repository = 'staging/web' AND tag LIKE 'burst%'
    AND digest = ANY(${digests}) GROUP BY digest`.execute(db);
  const states = await sql<{ state: string; n: string }>`
    SELECT state, count(*) AS n FROM push_events GROUP BY state`.execute(db);
  const once = (rows: Array<{ n: string }>) => ({
    once: rows.filter((r) => Number(r.n) === 1).length,
    twiceOrMore: rows.filter((r) => Number(r.n) > 1).length,
  });
  phases.burst = {
    images: BURST,
    pushSeconds: round(pushedIn / 1000),
    allPromotedSeconds: round(burstSeconds),
    promoted: done.filter((x) => !Number.isNaN(x)).length,
    ...(burstError ? { error: burstError } : {}),
    promotedTargets: once(targets.rows),
    auditEntries: once(audits.rows),
    stagingTagWrites: once(writes.rows),
    pushEventStates: Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)])),
    statementsPerImage: round(totalStatements(burstSql) / BURST),
    statements: burstSql,
    loadAverage: load(),
  };
} finally {
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(process.env.BENCH_PROFILE as string, JSON.stringify(profile));
    profiler.disconnect();
  }
  await server.close();
  await registry.stop();
}

const idle = phases.idle as { p50ms: number; statementsPerPromotion: number };
const pushes = phases.pushes as { p50ms: number; p99ms: number; statementsPerPush: number };
const burst = phases.burst as {
  allPromotedSeconds: number;
  promoted: number;
  promotedTargets: { once: number; twiceOrMore: number };
  auditEntries: { once: number; twiceOrMore: number };
  stagingTagWrites: { once: number; twiceOrMore: number };
  statementsPerImage: number;
};
const exact =
  burst.promoted === BURST &&
  burst.promotedTargets.once === BURST &&
  burst.auditEntries.once === BURST &&
  burst.stagingTagWrites.once === BURST;
const ratio = (x: number, target: number): string => `${round(x / target)}× the target`;
const result = {
  timestamp: new Date().toISOString(),
  database: backend,
  short,
  ...phases,
  targets: {
    idleP50ms: 150,
    pushP50ms: 100,
    pushP99ms: 250,
    burstSeconds: 5,
  },
  ratios: {
    idleP50: round(idle.p50ms / 150),
    pushP50: round(pushes.p50ms / 100),
    pushP99: round(pushes.p99ms / 250),
    burst: round(burst.allPromotedSeconds / 5),
  },
  burstExact: exact,
};
process.stdout.write(
  [
    `${backend} database, load average ${load().join(' ')}`,
    `idle request → PROMOTED: p50 ${idle.p50ms} ms (${ratio(idle.p50ms, 150)} ≤ 150 ms), ${idle.statementsPerPromotion} SQL statements per promotion`,
    `push → PROMOTED over ${N} pushes: p50 ${pushes.p50ms} ms (${ratio(pushes.p50ms, 100)} ≤ 100 ms), p99 ${pushes.p99ms} ms (${ratio(pushes.p99ms, 250)} ≤ 250 ms), ${pushes.statementsPerPush} SQL statements per push`,
    `burst of ${BURST}: all PROMOTED after ${burst.allPromotedSeconds} s (${ratio(burst.allPromotedSeconds, 5)} ≤ 5 s); promoted ${burst.promoted}; targets once ${burst.promotedTargets.once} twice ${burst.promotedTargets.twiceOrMore}; audit once ${burst.auditEntries.once} twice ${burst.auditEntries.twiceOrMore}; staging tag writes once ${burst.stagingTagWrites.once} twice ${burst.stagingTagWrites.twiceOrMore}; ${burst.statementsPerImage} SQL statements per image`,
    `exactly once: ${exact ? 'yes' : 'NO'}`,
    '',
  ].join('\n'),
);
const dir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}events-${result.timestamp.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
