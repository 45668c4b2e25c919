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
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Insertable, Kysely } from 'kysely';
import { HoistClient } from '../../src/client/index.ts';
import { buildServer } from '../../src/api/server.ts';
import { createServices } from '../../src/api/services.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { openDatabase } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import type { Schema } from '../../src/store/schema.ts';
import { startPostgres } from '../../test/harness/postgres.ts';

const APPS = Number(process.env.BENCH_APPS ?? 50);
const BUILDS = Number(process.env.BENCH_BUILDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const WARMUP = 20;
const ENVS = ['ci', 'dev', 'test', 'staging', 'preprod', 'prod'];
const TARGET_MS = 50;
const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const round = (ms: number): number => Math.round(ms * 100) / 100;

const chosen = process.argv.find((a) => a === 'embedded' || a === 'postgres');
const backends = chosen ? [chosen] : ['embedded', 'postgres'];

/** Writes the history: builds registered in ci, each promoted down the pipeline as far as its age allows. */
async function seedHistory(db: Kysely<Schema>, project: string, apps: string[]): Promise<number> {
  const p = await db.selectFrom('projects').select('id').where('name', '=', project).executeTakeFirstOrThrow();
  const envs = await db
    .selectFrom('environments')
    .select(['id', 'name', 'registry_id'])
    .where('project_id', '=', p.id)
    .orderBy('position')
    .execute();
  const appRows = await db.selectFrom('applications').select(['id', 'name']).where('project_id', '=', p.id).execute();
  const start = Date.now() - (BUILDS + 2) * 3600_000;
  let promotions = 0;
  for (const app of appRows.filter((a) => apps.includes(a.name))) {
    const artifacts: Array<Insertable<Schema['artifacts']> & { id: string; digest: string; tag: string }> = [];
    const locations: Array<Insertable<Schema['artifact_locations']>> = [];
    const requests: Array<Insertable<Schema['promotion_requests']>> = [];
    const targets: Array<Insertable<Schema['promotion_targets']>> = [];
    for (let b = 0; b < BUILDS; b++) {
      const id = randomUUID();
      const built = new Date(start + b * 3600_000);
      const digest = `sha256:${randomBytes(32).toString('hex')}`;
      artifacts.push({
        id,
        application_id: app.id,
        digest,
        registry_id: envs[0]!.registry_id,
        repository: `ci/${app.name}`,
        tag: `1.${b}`,
        media_type: 'application/vnd.oci.image.manifest.v1+json',
        size: 1000,
        labels: '{}',
        annotations: '{}',
        created: built,
        platforms: '["linux/amd64"]',
        referrers: '[]',
        build: JSON.stringify({ builder: 'ci', commit: randomBytes(20).toString('hex') }),
        registered_by: 'ci',
        registered_at: built,
      });
      // The newest builds are still in the first stages; older ones reached further.
      const reach = Math.min(ENVS.length, BUILDS - b);
      for (let k = 0; k < reach; k++) {
        const env = envs[k]!;
        const since = new Date(built.getTime() + k * 600_000);
        locations.push({ artifact_id: id, environment_id: env.id, tag: `1.${b}`, since });
        if (k === 0) continue;
        const request = randomUUID();
        requests.push({
          id: request,
          project_id: p.id,
          application_id: app.id,
          artifact_id: id,
          digest,
          source_env_id: envs[k - 1]!.id,
          requested_by: k % 2 === 0 ? 'pat' : 'rule:flow',
          comment: '',
          created_at: new Date(since.getTime() - 5000),
          tag: `1.${b}`,
        });
        targets.push({
          id: randomUUID(),
          request_id: request,
          environment_id: env.id,
          state: 'PROMOTED',
          policy_name: null,
          policy_version: null,
          approvals_needed: 0,
          verdict: '{"allowed":true,"reasons":[],"conditions":[]}',
          variables: '{}',
          reason: null,
          updated_at: since,
          result: JSON.stringify({ tag: `1.${b}`, bytesCopied: 1000 }),
          tag: null,
        });
        promotions++;
      }
    }
    // One request per application waits for a second approval into prod.
    const newest = artifacts.at(-1)!;
    const waiting = randomUUID();
    requests.push({
      id: waiting,
      project_id: p.id,
      application_id: app.id,
      artifact_id: newest.id,
      digest: newest.digest,
      source_env_id: envs[0]!.id,
      requested_by: 'pat',
      comment: 'hotfix',
      created_at: new Date(),
      tag: newest.tag,
    });
    const waitingTarget = randomUUID();
    targets.push({
      id: waitingTarget,
      request_id: waiting,
      environment_id: envs.at(-1)!.id,
      state: 'AWAITING_APPROVAL',
      policy_name: null,
      policy_version: null,
      approvals_needed: 2,
      verdict: '{"allowed":true,"reasons":[],"conditions":[]}',
      variables: '{}',
      reason: null,
      updated_at: new Date(),
      result: null,
      tag: null,
    });
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('artifacts').values(artifacts).execute();
      await trx.insertInto('artifact_locations').values(locations).execute();
      await trx.insertInto('promotion_requests').values(requests).execute();
      await trx.insertInto('promotion_targets').values(targets).execute();
      await trx
        .insertInto('promotion_decisions')
        .values({ target_id: waitingTarget, username: 'rita', decision: 'approve', comment: '', at: new Date() })
        .execute();
    });
  }
  return promotions;
}

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
    // Nothing connects to it: the history is written through the store.
    await c.registries.put({ name: 'local', url: '127.0.0.1:1' });
    await c.projects.create(project);
    for (const env of ENVS) {
      await c.projects.grantNamespace(project, 'local', `${env}/`);
      await c.environments.put(project, {
        name: env,
        kind: 'repository',
        registry: 'local',
        repository: `${env}/{app}`,
        ...(env === 'staging' ? { soakSeconds: 3600 } : {}),
        ...(env === 'prod'
          ? {
              protected: true,
              windows: [
                { days: ['mon', 'tue', 'wed', 'thu'], start: '09:00', end: '16:00', timeZone: 'Europe/Berlin' },
              ],
            }
          : {}),
      });
    }
    await c.environments.setPipeline(
      project,
      ENVS.slice(1).map((to, i) => ({ from: ENVS[i]!, to })),
    );
    const apps = Array.from({ length: APPS }, (_, i) => `app-${String(i).padStart(2, '0')}`);
    for (const name of apps) await c.projects.addApplication(project, name);
    const promotions = await seedHistory(database.db, project, apps);
    // Bindings as a platform team has them: dev tracks the latest build; every fifth application is pinned in prod.
    for (const [i, name] of apps.entries()) {
      await c.call(
        c.api.PUT('/api/v1/projects/{project}/applications/{app}/bindings/{env}', {
          params: { path: { project, app: name, env: 'dev' } },
          body: { mode: 'track-latest' },
        }),
      );
      if (i % 5 === 0) {
        const board = await c.call(c.api.GET('/api/v1/projects/{project}/board', { params: { path: { project } } }));
        const prod = board.applications.find((a) => a.name === name)?.cells.at(-1)?.current?.digest;
        if (prod)
          await c.call(
            c.api.PUT('/api/v1/projects/{project}/applications/{app}/bindings/{env}', {
              params: { path: { project, app: name, env: 'prod' } },
              body: { mode: 'pin', digest: prod },
            }),
          );
      }
    }

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
