/**
 * environment_holdings on both backends: the triggers on artifact_locations keep, per application and environment,
 * the artifact that arrived last, through everything that writes locations: arrivals in any order, a promotion that
 * rewrites its location (delete + insert), a changed `since`, a deleted artifact (the one before it is held again),
 * a deleted environment, and a tag change (which moves nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import type { Schema } from '../../src/store/schema.ts';
import { forEachBackend } from '../helpers/backends.ts';

const at = (minute: number): Date => new Date(Date.UTC(2026, 11, 3, 12, minute));

forEachBackend('environment holdings', (use) => {
  const db = (): Kysely<Schema> => use().db;
  const held = async (app = 'web'): Promise<Record<string, string>> => {
    const rows = await db()
      .selectFrom('environment_holdings')
      .select(['environment_id', 'artifact_id'])
      .where('application_id', '=', app)
      .execute();
    return Object.fromEntries(rows.map((r) => [r.environment_id, r.artifact_id]));
  };
  const arrive = (artifact: string, env: string, minute: number) =>
    db()
      .insertInto('artifact_locations')
      .values({ artifact_id: artifact, environment_id: env, tag: null, since: at(minute) })
      .execute();
  const leave = (artifact: string, env: string) =>
    db()
      .deleteFrom('artifact_locations')
      .where('artifact_id', '=', artifact)
      .where('environment_id', '=', env)
      .execute();

  test('setup: a project with two applications, two environments and builds', async () => {
    const now = new Date();
    await db()
      .insertInto('registries')
      .values({
        id: 'reg',
        name: 'r',
        url: 'r.example',
        insecure: false,
        username: null,
        secret_enc: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await db()
      .insertInto('projects')
      .values({ id: 'p', name: 'shop', description: '', created_at: now, updated_at: now })
      .execute();
    for (const app of ['web', 'api'])
      await db().insertInto('applications').values({ id: app, project_id: 'p', name: app, created_at: now }).execute();
    for (const [position, env] of ['dev', 'prod'].entries())
      await db()
        .insertInto('environments')
        .values({
          id: env,
          project_id: 'p',
          name: env,
          position,
          kind: 'repository',
          registry_id: 'reg',
          repository_template: `${env}/{app}`,
          tag_template: null,
          immutable_tags: false,
          allow_tag_move: true,
          protected: false,
          created_at: now,
          updated_at: now,
        })
        .execute();
    for (const [app, builds] of [
      ['web', ['a', 'b', 'c']],
      ['api', ['x']],
    ] as const)
      for (const build of builds)
        await db()
          .insertInto('artifacts')
          .values({
            id: build,
            application_id: app,
            digest: `sha256:${build.repeat(64)}`,
            registry_id: 'reg',
            repository: `dev/${app}`,
            tag: null,
            media_type: 'application/vnd.oci.image.manifest.v1+json',
            size: 1,
            labels: '{}',
            annotations: '{}',
            created: null,
            platforms: '[]',
            referrers: '[]',
            build: '{}',
            registered_by: 'ci',
            registered_at: now,
          })
          .execute();
  });

  test('the newest arrival is held, whatever order the rows come in; applications apart', async () => {
    await arrive('a', 'dev', 1);
    await arrive('b', 'dev', 5);
    await arrive('c', 'dev', 3); // registered later, but arrived before b
    await arrive('x', 'dev', 9);
    await arrive('a', 'prod', 2);
    assert.deepEqual(await held(), { dev: 'b', prod: 'a' });
    assert.deepEqual(await held('api'), { dev: 'x' });
  });

  test('a promotion rewriting its location (delete + insert in one transaction) moves the cell', async () => {
    await db()
      .transaction()
      .execute(async (trx) => {
        await trx
          .deleteFrom('artifact_locations')
          .where('artifact_id', '=', 'c')
          .where('environment_id', '=', 'dev')
          .execute();
        await trx
          .insertInto('artifact_locations')
          .values({ artifact_id: 'c', environment_id: 'dev', tag: 'v3', since: at(7) })
          .execute();
      });
    assert.deepEqual(await held(), { dev: 'c', prod: 'a' });
  });

  test('a tag change moves nothing; a changed since is followed', async () => {
    await db().updateTable('artifact_locations').set({ tag: 'v3-rc' }).where('artifact_id', '=', 'c').execute();
    assert.deepEqual(await held(), { dev: 'c', prod: 'a' });
    await db()
      .updateTable('artifact_locations')
      .set({ since: at(4) })
      .where('artifact_id', '=', 'c')
      .where('environment_id', '=', 'dev')
      .execute();
    assert.deepEqual(await held(), { dev: 'b', prod: 'a' });
  });

  test('the held build leaving (or deleted) brings back the one before it; the last leaving empties the cell', async () => {
    await leave('b', 'dev');
    assert.deepEqual(await held(), { dev: 'c', prod: 'a' });
    await db().deleteFrom('artifacts').where('id', '=', 'c').execute();
    assert.deepEqual(await held(), { dev: 'a', prod: 'a' });
    await leave('a', 'prod');
    assert.deepEqual(await held(), { dev: 'a' });
  });

  test('deleting an environment drops its cells', async () => {
    await db().deleteFrom('environments').where('id', '=', 'dev').execute();
    assert.deepEqual(await held(), {});
    assert.deepEqual(await held('api'), {});
  });
});
