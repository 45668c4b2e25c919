/**
 * `npm run bench:scale`: how request latency grows with history (issue 14). An in-process hoist server (embedded
 * database, or PostgreSQL with `-- postgres`) is seeded with 1,000 promotions, measured, then grown to 100,000
 * (BENCH_SCALE_N) and measured again. The seed is realistic in spread: 3 projects (one holds 80 % of the history),
 * 10 applications each, 4 environments, 20 users; targets mostly PROMOTED with some REJECTED, FAILED, STALE and a
 * few still waiting for approval (20, the same at every size: an approval queue is worked off as history grows, so
 * its depth is not history's; the queries over it are linear in that depth — with 2,000 waiting, the badge's count
 * took 33 ms in PostgreSQL, `BENCH_EXPLAIN=1` prints the plans); approvals on a third of them; one audit entry per
 * target. It is written with set-based SQL (generate_series) straight into the tables: the benchmark is about
 * reading at scale, and the product's write path is measured by bench:promote.
 *
 * Measured per step (sequential requests over HTTP, median and p99 of BENCH_SCALE_REQUESTS, default 60): the first
 * page of a project's requests, of its history, history filtered by application and environment, "waiting for me",
 * `/me` (its badge counts approvals waiting), the first page of the audit log, and a one-target promotion request
 * (refused by the pipeline, so it measures deciding, not copying). Target: each at 100k ≤ 1.5× its 1k figure.
 * Writes JSON under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql, type Compilable } from 'kysely';
import { waitingFor } from '../../src/store/pending-approvals.query.ts';
import { historyQuery } from '../../src/store/promotion-views.query.ts';
import { benchBackend, startBenchServer } from '../server.ts';

const BIG = Number(process.env.BENCH_SCALE_N ?? 100_000);
const SMALL = 1_000;
const REQUESTS = Number(process.env.BENCH_SCALE_REQUESTS ?? 60);
const PROJECTS = ['shop', 'bank', 'lab'];
const APPS = 10;
const ENVS = ['dev', 'staging', 'prod', 'prod-eu'];
const USERS = 20;
const backend = benchBackend();

const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

const server = await startBenchServer(backend);
const { services, url: base, token: adminToken } = server;
const db = server.database.db;

async function token(username: string, admin = false): Promise<string> {
  const user = await services.accounts.createUser(
    { username: 'bench' },
    { username, password: `${username}-password-1`, isAdmin: admin },
  );
  return (await services.accounts.createToken({ userId: user.id, username }, 'bench')).token;
}

async function call(
  tok: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}
async function must(tok: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await call(tok, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

// The model, through the API: registry, projects with namespaces, environments, pipeline, applications, members.
await must(adminToken, 'POST', '/api/v1/registries', { name: 'local', url: 'http://127.0.0.1:5999' });
const users: string[] = [];
const tokens = new Map<string, string>();
for (let i = 0; i < USERS; i++) {
  const name = `user${i}`;
  users.push(name);
  tokens.set(name, await token(name));
}
for (const project of PROJECTS) {
  const P = `/api/v1/projects/${project}`;
  await must(adminToken, 'POST', '/api/v1/projects', { name: project });
  await must(adminToken, 'PUT', `${P}/namespaces`, { registry: 'local', prefix: `${project}/` });
  for (const env of ENVS)
    await must(adminToken, 'PUT', `${P}/environments/${env}`, {
      kind: 'repository',
      registry: 'local',
      repository: `${project}/${env}/{app}`,
    });
  await must(adminToken, 'PUT', `${P}/pipeline`, {
    edges: ENVS.slice(1).map((to, i) => ({ from: ENVS[i], to })),
  });
  for (let a = 0; a < APPS; a++) await must(adminToken, 'POST', `${P}/applications`, { name: `app${a}` });
  for (let i = 0; i < USERS; i++)
    await must(adminToken, 'POST', `${P}/members`, {
      username: `user${i}`,
      role: i % 3 === 0 ? 'promoter' : 'developer',
    });
}

/**
 * Grows the history to `total` promotions (requests with one target each, ids `s<n>`), spread over the projects
 * (80 % shop), applications and edges, one artifact per three promotions, over the last 90 days.
 */
async function seedTo(total: number, from: number): Promise<void> {
  const t0 = performance.now();
  const chunk = 20_000;
  for (let lo = from; lo < total; lo += chunk) {
    const hi = Math.min(total, lo + chunk) - 1;
    await sql`
      INSERT INTO artifacts (id, application_id, digest, registry_id, repository, tag, media_type, size, labels,
        annotations, created, platforms, referrers, build, registered_by, registered_at)
      SELECT 'sa' || n, a.id, 'sha256:' || encode(sha256(('a' || n)::bytea), 'hex'), reg.id,
        p.name || '/dev/' || a.name, 'v' || n, 'application/vnd.oci.image.manifest.v1+json', 1000, '{}', '{}',
        now() - (n % 90) * interval '1 day', '["linux/amd64"]', '[]', '{}', 'ci',
        now() - (n % 90) * interval '1 day'
      FROM generate_series(${lo}::int, ${hi}::int) n
      JOIN LATERAL (SELECT CASE WHEN n % 10 < 8 THEN 'shop' WHEN n % 10 = 8 THEN 'bank' ELSE 'lab' END AS pname) pn ON true
      JOIN projects p ON p.name = pn.pname
      JOIN applications a ON a.project_id = p.id AND a.name = 'app' || (n / 10 % ${APPS})
      CROSS JOIN (SELECT id FROM registries WHERE name = 'local') reg
      WHERE n % 3 = 0`.execute(db);
    await sql`
      INSERT INTO artifact_locations (artifact_id, environment_id, tag, since)
      SELECT x.id, e.id, x.tag, x.registered_at
      FROM artifacts x JOIN applications a ON a.id = x.application_id
      JOIN environments e ON e.project_id = a.project_id AND e.name = 'dev'
      WHERE x.id IN (SELECT 'sa' || n FROM generate_series(${lo}::int, ${hi}::int) n WHERE n % 3 = 0)`.execute(db);
    await sql`
      INSERT INTO promotion_requests (id, project_id, application_id, artifact_id, digest, source_env_id,
        requested_by, comment, created_at, tag)
      SELECT 's' || n, x.project_id, x.id_app, x.art, x.digest, src.id, 'user' || (n % ${USERS}), 'seeded',
        now() - (n % 90) * interval '1 day' - (n % 1440) * interval '1 minute', 'v' || (n - n % 3)
      FROM generate_series(${lo}::int, ${hi}::int) n
      JOIN LATERAL (SELECT ar.id AS art, ar.digest, ar.application_id AS id_app, ap.project_id
        FROM artifacts ar JOIN applications ap ON ap.id = ar.application_id WHERE ar.id = 'sa' || (n - n % 3)) x ON true
      JOIN environments src ON src.project_id = x.project_id AND src.name = (ARRAY['dev','staging','prod'])[n % 3 + 1]`.execute(
      db,
    );
    await sql`
      INSERT INTO promotion_targets (id, request_id, environment_id, state, policy_name, policy_version,
        approvals_needed, verdict, variables, reason, updated_at)
      SELECT 't' || n, r.id, dst.id,
        CASE WHEN n % 100 < 85 THEN 'PROMOTED' WHEN n % 100 < 90 THEN 'REJECTED' WHEN n % 100 < 95 THEN 'FAILED'
          WHEN n % 100 < 98 OR n >= ${SMALL} THEN 'STALE' ELSE 'AWAITING_APPROVAL' END,
        NULL, NULL, n % 3 % 2, '{"allowed":true,"reasons":[],"conditions":[]}', '{}', NULL,
        r.created_at + interval '1 minute'
      FROM generate_series(${lo}::int, ${hi}::int) n
      JOIN promotion_requests r ON r.id = 's' || n
      JOIN environments src ON src.id = r.source_env_id
      JOIN environments dst ON dst.project_id = r.project_id AND dst.name = (ARRAY['staging','prod','prod-eu'])[n % 3 + 1]`.execute(
      db,
    );
    await sql`
      INSERT INTO promotion_decisions (target_id, username, decision, comment, at)
      SELECT 't' || n, 'user' || ((n + 3) % ${USERS}), 'approve', 'ok', now() - (n % 90) * interval '1 day'
      FROM generate_series(${lo}::int, ${hi}::int) n WHERE n % 3 = 1`.execute(db);
    await sql`
      INSERT INTO audit_log (at, actor, action, object_type, object_id, summary, request_id, prev_hash, hash)
      SELECT now() - (n % 90) * interval '1 day', 'user' || (n % ${USERS}), 'promotion.request', 'promotion', 's' || n,
        '{"seeded":true}', NULL, 'seed', 'seed-' || n
      FROM generate_series(${lo}::int, ${hi}::int) n`.execute(db);
  }
  await sql`ANALYZE`.execute(db);
  process.stderr.write(`seeded ${from} → ${total} promotions in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

interface Probe {
  name: string;
  run: () => Promise<unknown>;
}
const promoter = tokens.get('user3') as string;
const shop = '/api/v1/projects/shop';
const probes: Probe[] = [
  { name: 'requests, first page', run: () => must(promoter, 'GET', `${shop}/promotions?limit=50`) },
  { name: 'history, first page', run: () => must(promoter, 'GET', `${shop}/history?limit=50`) },
  {
    name: 'history, app + env filter',
    run: () => must(promoter, 'GET', `${shop}/history?app=app3&env=prod&limit=50`),
  },
  { name: 'waiting for me', run: () => must(promoter, 'GET', `${shop}/promotions?pendingFor=me&limit=50`) },
  { name: '/me with badge counts', run: () => must(promoter, 'GET', '/api/v1/me') },
  { name: 'audit log, first page', run: () => must(adminToken, 'GET', '/api/v1/audit?limit=50') },
  {
    name: 'promotion request (refused: no edge)',
    run: async () => {
      const r = await call(promoter, 'POST', `${shop}/applications/app3/promotions`, {
        digest: await someDigest(),
        from: 'dev',
        to: ['prod-eu'],
      });
      if (r.status >= 500) throw new Error(`request: ${r.status} ${JSON.stringify(r.json)}`);
    },
  },
];
let digestCache: string | undefined;
async function someDigest(): Promise<string> {
  digestCache ??= (
    await sql<{ digest: string }>`SELECT x.digest FROM artifacts x JOIN applications a ON a.id = x.application_id
      JOIN projects p ON p.id = a.project_id WHERE p.name = 'shop' AND a.name = 'app3' LIMIT 1`.execute(db)
  ).rows[0]?.digest;
  return digestCache as string;
}

async function measure(): Promise<Record<string, { p50: number; p99: number }>> {
  const out: Record<string, { p50: number; p99: number }> = {};
  for (const probe of probes) {
    for (let i = 0; i < 5; i++) await probe.run(); // warm-up
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      await probe.run();
      times.push(performance.now() - t);
    }
    out[probe.name] = { p50: percentile(times, 50), p99: percentile(times, 99) };
  }
  return out;
}

/** BENCH_EXPLAIN=1: the plans (EXPLAIN ANALYZE) of the queries behind the probes that grow, at each size. */
async function explain(size: number): Promise<void> {
  if (process.env.BENCH_EXPLAIN !== '1') return;
  const shopId = sql<string>`(SELECT id FROM projects WHERE name = 'shop')`;
  const queries: Array<[string, Compilable]> = [
    [
      'badge: requests waiting for user3',
      db
        .selectFrom('promotion_requests as r')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where(waitingFor('user3')),
    ],
    [
      'waiting for me, first page',
      db
        .selectFrom('promotion_requests as r')
        .select(['r.id', 'r.created_at'])
        .where('r.project_id', '=', shopId)
        .where(waitingFor('user3'))
        .orderBy('r.created_at', 'desc')
        .orderBy('r.id', 'desc')
        .limit(51),
    ],
    ['history, app + env filter', historyQuery(db, 'shop', { app: 'app3', env: 'prod', limit: 50 })],
  ];
  for (const [name, q] of queries) {
    const c = q.compile();
    const plan = await db.executeQuery<{ 'QUERY PLAN': string }>({
      ...c,
      sql: `EXPLAIN (ANALYZE, BUFFERS) ${c.sql}`,
    });
    process.stderr.write(`\n-- ${name} at ${size}\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
  }
}

try {
  await seedTo(SMALL, 0);
  const small = await measure();
  await explain(SMALL);
  await seedTo(BIG, SMALL);
  const big = await measure();
  await explain(BIG);
  const rows = probes.map((p) => {
    const s = small[p.name] as { p50: number; p99: number };
    const b = big[p.name] as { p50: number; p99: number };
    const ratio = b.p50 / s.p50;
    return {
      probe: p.name,
      p50At1k: s.p50,
      p50AtBig: b.p50,
      p99At1k: s.p99,
      p99AtBig: b.p99,
      ratio,
      pass: ratio <= 1.5,
    };
  });
  const pad = (s: string, n: number) => s.padEnd(n);
  process.stdout.write(
    `\nbench:scale (${backend}), p50 ms at ${SMALL} and ${BIG} promotions (target ratio ≤ 1.5)\n` +
      `${pad('probe', 40)} ${pad('1k', 8)} ${pad(String(BIG / 1000) + 'k', 8)} ${pad('ratio', 6)} result\n` +
      rows
        .map(
          (r) =>
            `${pad(r.probe, 40)} ${pad(r.p50At1k.toFixed(1), 8)} ${pad(r.p50AtBig.toFixed(1), 8)} ${pad(r.ratio.toFixed(2), 6)} ${r.pass ? 'PASS' : 'MISS'}`,
        )
        .join('\n') +
      '\n',
  );
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}scale-${backend}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
    JSON.stringify(
      {
        backend,
        ...(backend === 'embedded'
          ? { embeddedSharedBuffers: process.env.HOIST_EMBEDDED_SHARED_BUFFERS ?? '8MB' }
          : {}),
        small: SMALL,
        big: BIG,
        requests: REQUESTS,
        rows,
      },
      null,
      2,
    ),
  );
} finally {
  await server.close();
}
