/**
 * The promotion path's merged statements on both backends, each with a second actor: the location and the tag seen
 * in one upsert (two runners recording the same artifact in the same environment at once: both commit, one row,
 * the environment holds it), the attestation job with its wake-up in one statement (two runners queueing the same
 * target's image: one job), the fence before the tag write with the newer-promotion check and the project's webhooks
 * (a claim taken over by another replica is refused and extends nothing; another project's webhooks and another
 * application's promotions stay out), and automation's first look (another project's, another application's and a
 * disabled rule stay out, as do another application's bindings).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import type { Schema } from '../../src/store/schema.ts';
import { forEachBackend } from '../helpers/backends.ts';
import { fenceTagWrite, recordLocation } from '../../src/store/promotion-jobs.repository.ts';
import { enqueueAttestations } from '../../src/store/promotion-attestations.repository.ts';
import { automationOutlook } from '../../src/store/automation-outlook.query.ts';

const at = (minute: number): Date => new Date(Date.UTC(2026, 11, 4, 12, minute));

forEachBackend('promotion writes', (use) => {
  const db = (): Kysely<Schema> => use().db;

  test('setup: two projects, their applications, environments, builds and a promotion being carried out', async () => {
    const now = at(0);
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
    for (const p of ['p', 'q'])
      await db()
        .insertInto('projects')
        .values({ id: p, name: p === 'p' ? 'shop' : 'other', description: '', created_at: now, updated_at: now })
        .execute();
    for (const [id, project] of [
      ['web', 'p'],
      ['api', 'p'],
      ['qweb', 'q'],
    ] as const)
      await db().insertInto('applications').values({ id, project_id: project, name: id, created_at: now }).execute();
    for (const [position, env, project] of [
      [0, 'dev', 'p'],
      [1, 'prod', 'p'],
      [0, 'qdev', 'q'],
      [1, 'qprod', 'q'],
    ] as const)
      await db()
        .insertInto('environments')
        .values({
          id: env,
          project_id: project,
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
    for (const [build, app] of [
      ['a', 'web'],
      ['b', 'web'],
      ['x', 'api'],
      ['y', 'qweb'],
    ] as const)
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

  const request = async (
    id: string,
    o: { artifact: string; app: string; minute: number; state: 'PROMOTING' | 'PROMOTED'; tag?: string },
  ) => {
    await db()
      .insertInto('promotion_requests')
      .values({
        id,
        project_id: 'p',
        application_id: o.app,
        artifact_id: o.artifact,
        digest: `sha256:${o.artifact.repeat(64)}`,
        source_env_id: 'dev',
        requested_by: 'pat',
        comment: '',
        created_at: at(o.minute),
      })
      .execute();
    await db()
      .insertInto('promotion_targets')
      .values({
        id: `${id}-t`,
        request_id: id,
        environment_id: 'prod',
        state: o.state,
        policy_name: null,
        policy_version: null,
        approvals_needed: 0,
        verdict: '{}',
        variables: '{}',
        reason: null,
        updated_at: at(o.minute),
        run_after: null,
        lease_until: o.state === 'PROMOTING' ? at(o.minute + 1) : null,
        result: o.tag ? JSON.stringify({ tag: o.tag }) : null,
        tag: null,
        failing_since: null,
      })
      .execute();
  };

  test('two runners record the same artifact in the same environment at once: both commit, one location, the tags seen', async () => {
    const record = (tag: string, minute: number) =>
      db()
        .transaction()
        .execute((trx) => recordLocation(trx, { artifactId: 'a', environmentId: 'prod', tag, at: at(minute) }));
    await Promise.all([record('v1', 1), record('v2', 2)]);
    const rows = await db().selectFrom('artifact_locations').selectAll().where('environment_id', '=', 'prod').execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.artifact_id, 'a');
    assert.ok(['v1', 'v2'].includes(rows[0]?.tag ?? ''), String(rows[0]?.tag));
    const tags = await db().selectFrom('artifact_tags').select('tag').where('artifact_id', '=', 'a').execute();
    assert.deepEqual(tags.map((t) => t.tag).sort(), ['v1', 'v2']);
    const held = await db()
      .selectFrom('environment_holdings')
      .select(['artifact_id', 'since'])
      .where('application_id', '=', 'web')
      .where('environment_id', '=', 'prod')
      .execute();
    assert.deepEqual(
      held.map((h) => h.artifact_id),
      ['a'],
    );
  });

  test('a newer build replaces nothing of the older one; the older one promoted again (no tag) is held again, its tags kept', async () => {
    await db()
      .transaction()
      .execute((trx) => recordLocation(trx, { artifactId: 'b', environmentId: 'prod', tag: 'v3', at: at(5) }));
    const holding = async () =>
      (
        await db()
          .selectFrom('environment_holdings')
          .select('artifact_id')
          .where('application_id', '=', 'web')
          .where('environment_id', '=', 'prod')
          .executeTakeFirst()
      )?.artifact_id;
    assert.equal(await holding(), 'b');
    await db()
      .transaction()
      .execute((trx) => recordLocation(trx, { artifactId: 'a', environmentId: 'prod', tag: null, at: at(6) }));
    assert.equal(await holding(), 'a');
    const a = await db()
      .selectFrom('artifact_locations')
      .select(['tag', 'since'])
      .where('artifact_id', '=', 'a')
      .where('environment_id', '=', 'prod')
      .executeTakeFirstOrThrow();
    assert.equal(a.tag, null);
    assert.equal(new Date(a.since).getTime(), at(6).getTime());
    const tags = await db().selectFrom('artifact_tags').select('tag').where('artifact_id', '=', 'a').execute();
    assert.deepEqual(tags.map((t) => t.tag).sort(), ['v1', 'v2']);
  });

  test("two runners queue the same target's attestation at once: one job, and the attestation workers are woken", async () => {
    await request('r1', { artifact: 'a', app: 'web', minute: 10, state: 'PROMOTING' });
    let woken = 0;
    const unsubscribe = await use().notifier.subscribe('hoist_queue_attestation_jobs', () => woken++);
    try {
      const image = {
        applicationId: 'web',
        artifactId: 'a',
        digest: `sha256:${'a'.repeat(64)}`,
        repository: 'prod/web',
        tag: 'v1',
      };
      const queue = () =>
        db()
          .transaction()
          .execute((trx) => enqueueAttestations(trx, 'r1-t', [image], at(11)));
      await Promise.all([queue(), queue()]);
      const jobs = await db().selectFrom('attestation_jobs').select(['id', 'state']).execute();
      assert.deepEqual(jobs, [{ id: 'att-r1-t-web', state: 'PENDING' }]);
      const deadline = Date.now() + 5000;
      while (woken === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(woken >= 1, 'the workers were woken');
      // Queued already: nothing is inserted, and nothing fails.
      await queue();
      assert.equal((await db().selectFrom('attestation_jobs').select('id').execute()).length, 1);
    } finally {
      await unsubscribe();
    }
  });

  test('the fence before the tag write: held with the newer promotion and the project webhooks; a claim taken over is refused', async () => {
    await db().updateTable('promotion_targets').set({ lease_token: 1 }).where('id', '=', 'r1-t').execute();
    for (const [id, project] of [
      ['hook-p', 'p'],
      ['hook-q', 'q'],
    ] as const)
      await db()
        .insertInto('webhooks')
        .values({
          id,
          project_id: project,
          url: 'https://hooks.example/x',
          secret_enc: 's',
          events: JSON.stringify(['promotion.promoted']),
          created_by: 'admin',
          created_at: at(0),
        })
        .execute();
    const claim = { id: 'r1-t', token: 1, attempts: 1 };
    const fence = (tag: string, until = at(30)) =>
      fenceTagWrite(db(), claim, {
        leaseUntil: until,
        projectId: 'p',
        applicationId: 'web',
        environmentId: 'prod',
        tag,
        requestedAt: at(10),
      });
    const first = await fence('v1');
    assert.equal(first.held, true);
    assert.equal(first.newer, null);
    assert.deepEqual(first.webhooks, [{ id: 'hook-p', events: ['promotion.promoted'] }]);
    // Promotions that wrote v1 to prod: an older request's, another application's, and a newer one of web.
    await request('r0', { artifact: 'b', app: 'web', minute: 9, state: 'PROMOTED', tag: 'v1' });
    await request('r2', { artifact: 'x', app: 'api', minute: 12, state: 'PROMOTED', tag: 'v1' });
    assert.equal((await fence('v1')).newer, null);
    await request('r3', { artifact: 'b', app: 'web', minute: 13, state: 'PROMOTED', tag: 'v1' });
    assert.deepEqual((await fence('v1')).newer, { requestId: 'r3', digest: `sha256:${'b'.repeat(64)}` });
    assert.equal((await fence('v9')).newer, null, 'another tag: not superseded');
    // Another replica claims the target (its lease lapsed): the first one's fence is refused and extends nothing.
    await db()
      .updateTable('promotion_targets')
      .set({ lease_token: 2, lease_until: at(40) })
      .where('id', '=', 'r1-t')
      .execute();
    const stale = await fence('v1', at(59));
    assert.equal(stale.held, false);
    const row = await db()
      .selectFrom('promotion_targets')
      .select(['lease_until', 'state'])
      .where('id', '=', 'r1-t')
      .executeTakeFirstOrThrow();
    assert.equal(new Date(row.lease_until as Date).getTime(), at(40).getTime());
    assert.equal(row.state, 'PROMOTING');
  });

  test("automation's first look: its application's and the project-wide enabled rules by name, its own bindings only", async () => {
    const rule = (id: string, o: { project: string; app: string | null; enabled: boolean; from: string; to: string }) =>
      db()
        .insertInto('rules')
        .values({
          id,
          project_id: o.project,
          name: id,
          application_id: o.app,
          source_env_id: o.from,
          target_env_id: o.to,
          criteria: '[]',
          expression: 'true',
          tag_template: null,
          mode: 'promote',
          enabled: o.enabled,
          created_by: 'admin',
          created_at: at(0),
        })
        .execute();
    await rule('z-project-wide', { project: 'p', app: null, enabled: true, from: 'dev', to: 'prod' });
    await rule('a-web', { project: 'p', app: 'web', enabled: true, from: 'dev', to: 'prod' });
    await rule('b-api', { project: 'p', app: 'api', enabled: true, from: 'dev', to: 'prod' });
    await rule('c-disabled', { project: 'p', app: 'web', enabled: false, from: 'dev', to: 'prod' });
    await rule('d-other-project', { project: 'q', app: null, enabled: true, from: 'qdev', to: 'qprod' });
    for (const [app, env] of [
      ['web', 'prod'],
      ['api', 'dev'],
    ] as const)
      await db()
        .insertInto('bindings')
        .values({
          application_id: app,
          environment_id: env,
          mode: 'track-latest',
          pinned_digest: null,
          updated_by: 'admin',
          updated_at: at(0),
        })
        .execute();
    // The project-wide rule fired for the artifact already; the application's own did not (nor for another artifact).
    await db()
      .insertInto('automation_firings')
      .values([
        { key: 'rule:z-project-wide:a', artifact_id: 'a', request_id: null, at: at(0) },
        { key: 'rule:a-web:y', artifact_id: 'y', request_id: null, at: at(0) },
      ])
      .execute();
    const seen = await automationOutlook(db(), 'a');
    assert.ok(seen);
    assert.deepEqual(
      { digest: seen.digest, appId: seen.appId, app: seen.app, projectId: seen.projectId, project: seen.project },
      { digest: `sha256:${'a'.repeat(64)}`, appId: 'web', app: 'web', projectId: 'p', project: 'shop' },
    );
    assert.deepEqual(
      seen.rules.map((r) => [r.name, r.application_id, r.from, r.to, r.mode, r.expression, r.tag_template, r.fired]),
      [
        ['a-web', 'web', 'dev', 'prod', 'promote', 'true', null, false],
        ['z-project-wide', null, 'dev', 'prod', 'promote', 'true', null, true],
      ],
    );
    assert.deepEqual(seen.bindings, [{ name: 'prod', mode: 'track-latest' }]);
    const other = await automationOutlook(db(), 'y');
    assert.deepEqual(
      other?.rules.map((r) => r.name),
      ['d-other-project'],
    );
    assert.deepEqual(other?.bindings, []);
    assert.equal(await automationOutlook(db(), 'nope'), undefined);
  });
});
