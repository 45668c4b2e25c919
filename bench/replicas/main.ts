/**
 * `npm run bench:replicas`: promotions per second with two real `hoist serve` replicas on one real PostgreSQL sharing
 * the queue, on this machine. A real distribution registry sits behind a recording proxy (test/harness/proxy.ts), so
 * every tag write is seen. N images (default 400; `-- --short` 200) are pushed to dev and registered; then N
 * promotion requests dev → staging are sent at once, half to each replica (at most 32 in flight), and the time until
 * all are PROMOTED is measured (PostgreSQL is asked directly, every 20 ms).
 * Reported: promotions/s (target ≥ 100), how many each replica carried out (its `hoist_queue_attempts_total` of
 * promotions done; target: both did work), and that none was done twice: one PROMOTED target, one
 * `promotion.promoted` audit entry and one tag write (PUT …/manifests/TAG through the proxy) per image. With
 * pg_stat_statements (loaded here), the statements per promotion, the top ones by calls.
 * Writes JSON under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { HoistClient, signInForToken } from '../../src/client/index.ts';
import { startPostgres } from '../../test/harness/postgres.ts';
import { startProxy } from '../../test/harness/proxy.ts';
import { startRegistry } from '../../test/harness/registry.ts';
import { buildImage } from '../../test/harness/images.ts';
import { pushImage } from '../../test/harness/push.ts';
import { startServe, type Served } from '../../test/helpers/serve.ts';

const short = process.argv.includes('--short');
const N = Number(process.env.BENCH_PROMOTIONS ?? (short ? 200 : 400));
const IN_FLIGHT = 32;
const TARGET = 100;
const PASSWORD = 'bench-replicas-password';
const round = (x: number): number => Math.round(x * 10) / 10;

process.env.HOIST_POSTGRES_PRELOAD = 'pg_stat_statements';
const postgres = await startPostgres();
const databaseUrl = await postgres.createDatabase();
const registry = await startRegistry();
const proxy = await startProxy(registry.url);
const dir = await mkdtemp(join(tmpdir(), 'hoist-bench-replicas-'));
const servers: Served[] = [];
const sql = new pg.Client({ connectionString: databaseUrl });
let result: Record<string, unknown> | undefined;
try {
  const env = {
    HOIST_DATABASE_URL: databaseUrl,
    HOIST_ADMIN_PASSWORD: PASSWORD,
    HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
    // The bench measures the queue, not backpressure: 32 requests in flight are fine.
    HOIST_MAX_IN_FLIGHT: '0',
  };
  // One after the other: the first start migrates.
  servers.push(await startServe({ dataDir: join(dir, 'data'), env }));
  servers.push(await startServe({ dataDir: join(dir, 'data'), env }));
  const [a, b] = servers as [Served, Served];
  const clients = [
    new HoistClient(a.url, await signInForToken(a.url, 'admin', PASSWORD, 'bench-a', 1)),
    new HoistClient(b.url, await signInForToken(b.url, 'admin', PASSWORD, 'bench-b', 1)),
  ] as const;
  const c = clients[0];
  await c.registries.put({ name: 'local', url: proxy.url });
  await c.projects.create('bench');
  await c.projects.addApplication('bench', 'web');
  for (const prefix of ['dev/', 'staging/']) await c.projects.grantNamespace('bench', 'local', prefix);
  for (const name of ['dev', 'staging'])
    await c.environments.put('bench', { name, kind: 'repository', registry: 'local', repository: `${name}/{app}` });
  await c.environments.setPipeline('bench', [{ from: 'dev', to: 'staging' }]);

  process.stderr.write(`seeding ${N} images\n`);
  const digests: string[] = [];
  for (let i = 0; i < N; i += 16)
    await Promise.all(
      Array.from({ length: Math.min(16, N - i) }, async (_, k) => {
        const img = buildImage({ layers: [4096, 1024] });
        await pushImage(registry.url, 'dev/web', img, { tag: `b${i + k}` });
        await c.artifacts.register('bench', 'web', {
          reference: `${proxy.url.replace(/^https?:\/\//, '')}/dev/web:b${i + k}`,
        });
        digests[i + k] = img.digest;
      }),
    );

  await sql.connect();
  await sql.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').catch(() => undefined);
  const statsOn = await sql.query('SELECT pg_stat_statements_reset()').then(
    () => true,
    () => false,
  );
  proxy.clear();
  const promotedCount = async (): Promise<number> =>
    Number(
      (
        await sql.query<{ n: string }>(
          `SELECT count(*) AS n FROM promotion_targets t JOIN environments e ON e.id = t.environment_id
           WHERE e.name = 'staging' AND t.state IN ('PROMOTED', 'FAILED', 'REJECTED')`,
        )
      ).rows[0]?.n ?? 0,
    );

  process.stderr.write(`promoting ${N} images dev → staging through both replicas\n`);
  const started = performance.now();
  let next = 0;
  const sender = async (): Promise<void> => {
    for (let i = next++; i < N; i = next++) {
      const client = clients[i % 2] as HoistClient;
      await client.promotions.request('bench', 'web', { digest: digests[i] as string, from: 'dev', to: ['staging'] });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, sender));
  const requestedSeconds = (performance.now() - started) / 1000;
  const deadline = performance.now() + 180_000;
  while ((await promotedCount()) < N && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;

  const perReplica = await Promise.all(
    servers.map(async (s) => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('hoist_queue_attempts_total{') &&
            l.includes('queue="promotions"') &&
            l.includes('outcome="done"'),
        );
      return Number(line?.split(' ').at(-1) ?? 0);
    }),
  );
  const states = await sql.query<{ state: string; n: string }>(
    `SELECT t.state, count(*) AS n FROM promotion_targets t JOIN environments e ON e.id = t.environment_id
     WHERE e.name = 'staging' GROUP BY t.state`,
  );
  const audits = await sql.query<{ digest: string; n: string }>(
    `SELECT summary->>'digest' AS digest, count(*) AS n FROM audit_log WHERE action = 'promotion.promoted' GROUP BY 1`,
  );
  const tagWrites = new Map<string, number>();
  for (const r of proxy.requests)
    if (r.method === 'PUT' && /^\/v2\/staging\/web\/manifests\/b\d+$/.test(r.path))
      tagWrites.set(r.path, (tagWrites.get(r.path) ?? 0) + 1);
  // What the promotions asked of the registry, by kind (digests, tags and upload sessions made alike).
  const requestKinds = new Map<string, number>();
  for (const r of proxy.requests) {
    const kind = `${r.method} ${r.path
      .replace(/\?.*$/, '')
      .replace(/sha256[:-][0-9a-f]{64}/g, '<digest>')
      .replace(/\/uploads\/[^/]+$/, '/uploads/<session>')
      .replace(/\/manifests\/b\d+$/, '/manifests/<tag>')}`;
    requestKinds.set(kind, (requestKinds.get(kind) ?? 0) + 1);
  }
  const byKind = [...requestKinds].sort((a, b) => b[1] - a[1]);
  const top = statsOn
    ? (
        await sql.query<{ calls: string; query: string; ms: number }>(
          `SELECT calls, total_exec_time AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           ORDER BY calls DESC LIMIT 25`,
        )
      ).rows.map((r) => ({ calls: Number(r.calls), ms: Math.round(r.ms), query: r.query }))
    : [];
  const calls = statsOn
    ? Number(
        (
          await sql.query<{ n: string }>(
            `SELECT sum(calls) AS n FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          )
        ).rows[0]?.n ?? 0,
      )
    : 0;
  const promoted = Number(states.rows.find((r) => r.state === 'PROMOTED')?.n ?? 0);
  const perSecond = promoted / seconds;
  result = {
    timestamp: new Date().toISOString(),
    database: 'postgres',
    replicas: 2,
    promotions: N,
    short,
    requestsSentSeconds: round(requestedSeconds),
    seconds: round(seconds),
    promotionsPerSecond: round(perSecond),
    target: `≥ ${TARGET} promotions/s, spread over both replicas`,
    ratio: Math.round((perSecond / TARGET) * 100) / 100,
    doneByReplica: perReplica,
    states: Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)])),
    auditPromotedTwice: audits.rows.filter((r) => Number(r.n) > 1).length,
    tagWrites: { images: tagWrites.size, twice: [...tagWrites.values()].filter((n) => n > 1).length },
    statementsPerPromotion: statsOn ? round(calls / N) : null,
    registryRequestsPerPromotion: round(proxy.requests.length / N),
    registryRequests: Object.fromEntries(byKind),
    topStatements: top,
    loadAverage: loadavg().map(round),
  };
  const exact =
    promoted === N &&
    result.auditPromotedTwice === 0 &&
    tagWrites.size === N &&
    [...tagWrites.values()].every((n) => n === 1);
  result.exactlyOnce = exact;
  process.stdout.write(
    [
      `two replicas on PostgreSQL: ${N} promotions in ${round(seconds)} s = ${round(perSecond)} promotions/s (${result.ratio}× the target ≥ ${TARGET}/s); requests sent in ${round(requestedSeconds)} s`,
      `done by replica: ${perReplica.join(' / ')} (both working: ${perReplica.every((n) => n > 0) ? 'yes' : 'NO'})`,
      `exactly once (one PROMOTED, one audit entry, one tag write per image): ${exact ? 'yes' : 'NO'} ${JSON.stringify({ states: result.states, auditPromotedTwice: result.auditPromotedTwice, tagWrites: result.tagWrites })}`,
      statsOn
        ? `${result.statementsPerPromotion} SQL statements per promotion (pg_stat_statements, both replicas)`
        : '',
      `${result.registryRequestsPerPromotion} registry requests per promotion: ${byKind.map(([k, n]) => `${round(n / N)} ${k}`).join(', ')}`,
      `load average ${loadavg().map(round).join(' ')}`,
      '',
    ].join('\n'),
  );
  const out = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  writeFileSync(
    `${out}replicas-${String(result.timestamp).replace(/[:.]/g, '-')}.json`,
    `${JSON.stringify(result, null, 2)}\n`,
  );
} finally {
  await sql.end().catch(() => undefined);
  await Promise.all(servers.map((s) => s.stop()));
  await proxy.stop();
  await registry.stop();
  await postgres.stop();
  await rm(dir, { recursive: true, force: true });
}
