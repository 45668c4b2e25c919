/**
 * The board benchmarks' project (`bench:board` measures its API answer, `bench:console` the console showing it): 50
 * applications × 6 environments (ci → dev → test → staging → preprod → prod; a soak time in staging, a promotion
 * window and protection in prod) made through the API, and a history written through the store as the runner would
 * have left it: BENCH_BUILDS builds per application, each promoted as far down the pipeline as its age allows, with
 * requests, PROMOTED targets and locations, and one request per application waiting for a second approval into prod.
 * dev tracks the latest build everywhere; every fifth application is pinned in prod.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import type { HoistClient } from '../../src/client/index.ts';
import type { Schema } from '../../src/store/schema.ts';

export const APPS = Number(process.env.BENCH_APPS ?? 50);
export const BUILDS = Number(process.env.BENCH_BUILDS ?? 10);
export const ENVS = ['ci', 'dev', 'test', 'staging', 'preprod', 'prod'];

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

/** Makes `project` and its history; answers how many promotions the history holds. */
export async function seedBoardProject(c: HoistClient, db: Kysely<Schema>, project: string): Promise<number> {
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
            windows: [{ days: ['mon', 'tue', 'wed', 'thu'], start: '09:00', end: '16:00', timeZone: 'Europe/Berlin' }],
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
  const promotions = await seedHistory(db, project, apps);
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
  return promotions;
}
