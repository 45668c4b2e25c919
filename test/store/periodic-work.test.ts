/**
 * Periodic work with two replicas on one database (PGlite: two services on one database object; PostgreSQL: two
 * services on two connection pools): the soak tick runs once in total and the poller checks a registry once in total,
 * each under a named lease; when the holder stops (its lease lapses) the other replica takes over and continues from
 * where the holder got; a stale holder's writes change nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServices } from '../../src/api/services.ts';
import type { Services } from '../../src/api/context.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { SOAK_TICK_LEASE } from '../../src/service/soak-ticker.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import {
  advanceLeaseCursor,
  claimNamedLease,
  renewNamedLease,
  type NamedLease,
} from '../../src/store/named-leases.repository.ts';
import { pollLeaseName, recordCheck } from '../../src/store/watches.repository.ts';
import { forEachBackend } from '../helpers/backends.ts';
import { LOOPBACK_CIDRS } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { pushImage } from '../harness/push.ts';
import { buildImage } from '../harness/images.ts';

const LEASE_MS = 15_000;
const T0 = new Date('2026-01-05T10:00:00Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

let registry: TestRegistry;
before(async () => {
  registry = await startRegistry();
});
after(async () => {
  await registry?.stop();
});

/** Two replicas' services: on PGlite one database object shared, on PostgreSQL a second pool on the same database. */
async function twoReplicas(database: Database): Promise<{ a: Services; b: Services; close: () => Promise<void> }> {
  const second = database.backend === 'pglite' ? database : await openDatabase({ url: database.location });
  const box = new SecretBox(randomBytes(32));
  const outbound = OutboundPolicy.fromList(LOOPBACK_CIDRS);
  return {
    a: createServices(database, box, { outbound }),
    b: createServices(second, box, { outbound }),
    close: async () => {
      if (second !== database) await second.close();
    },
  };
}

let serial = 0;
/** An artifact that arrived in a 60 s soak environment at `since`: the tick should consider it from since + 60 s. */
async function soakingArtifact(database: Database, since: Date): Promise<string> {
  const n = ++serial;
  const db = database.db;
  const registryId = `reg-${n}`;
  await db
    .insertInto('registries')
    .values({
      id: registryId,
      name: `soak-${n}`,
      url: 'http://127.0.0.1:9',
      insecure: false,
      username: null,
      secret_enc: null,
      created_at: T0,
      updated_at: T0,
    })
    .execute();
  await db
    .insertInto('projects')
    .values({ id: `p-${n}`, name: `p-${n}`, description: '', created_at: T0, updated_at: T0 })
    .execute();
  await db
    .insertInto('applications')
    .values({ id: `a-${n}`, project_id: `p-${n}`, name: 'web', created_at: T0 })
    .execute();
  await db
    .insertInto('environments')
    .values({
      id: `e-${n}`,
      project_id: `p-${n}`,
      name: 'staging',
      position: 0,
      kind: 'repository',
      registry_id: registryId,
      repository_template: 'staging/{app}',
      tag_template: null,
      immutable_tags: false,
      allow_tag_move: true,
      protected: false,
      created_at: T0,
      updated_at: T0,
      soak_seconds: 60,
      windows: null,
    })
    .execute();
  const artifactId = `x-${n}`;
  await db
    .insertInto('artifacts')
    .values({
      id: artifactId,
      application_id: `a-${n}`,
      digest: `sha256:${n.toString(16).padStart(64, '0')}`,
      registry_id: registryId,
      repository: 'staging/web',
      tag: '1',
      media_type: 'application/vnd.oci.image.manifest.v1+json',
      size: 1,
      labels: '{}',
      annotations: '{}',
      created: null,
      platforms: '[]',
      referrers: '[]',
      build: '{}',
      registered_by: 'test',
      registered_at: since,
    })
    .execute();
  await db
    .insertInto('artifact_locations')
    .values({ artifact_id: artifactId, environment_id: `e-${n}`, tag: '1', since })
    .execute();
  return artifactId;
}

/** Records which artifacts each replica's automation was asked to consider by its tick. */
function spyOnConsider(s: Services): string[][] {
  const calls: string[][] = [];
  const real = s.automation.consider.bind(s.automation);
  s.automation.consider = async (ids, now) => {
    calls.push([...ids]);
    return real(ids, now);
  };
  return calls;
}

forEachBackend('periodic work across replicas', (use) => {
  test('the soak tick runs once with two workers, and the second takes over where the first stopped when its lease lapses', async () => {
    const database = use();
    const { a, b, close } = await twoReplicas(database);
    try {
      const first = await soakingArtifact(database, at(0));
      const seenByA = spyOnConsider(a);
      const seenByB = spyOnConsider(b);

      // Both replicas tick at the same moment, the artifact soaked: one of them considers it, once.
      const results = await Promise.all([a.automation.tick(at(61)), b.automation.tick(at(61))]);
      assert.equal(results.filter((r) => r === undefined).length, 1, 'one replica found the tick held by the other');
      assert.deepEqual([...seenByA, ...seenByB], [[first]]);
      const [holder, other, holderSaw, otherSaw] =
        results[0] === undefined ? [b, a, seenByB, seenByA] : [a, b, seenByA, seenByB];

      // While the holder keeps ticking, the other replica does nothing, however often it looks.
      assert.equal(await holder.automation.tick(at(62)), 0);
      assert.equal(await other.automation.tick(at(63)), undefined);
      assert.equal(await other.automation.tick(at(62 + LEASE_MS / 1000 - 1)), undefined);

      // The holder stops (dies). A second artifact soaks meanwhile; once the holder's lease has lapsed the other
      // replica takes the tick over, continues from the holder's cursor (the first artifact is not considered
      // again) and finds the second.
      const second = await soakingArtifact(database, at(5));
      const takeover = at(62 + LEASE_MS / 1000 + 1);
      assert.equal(await other.automation.tick(takeover), 0);
      assert.deepEqual(otherSaw, [[second]]);
      assert.deepEqual(holderSaw, [[first]]);

      // The old holder comes back: the lease has changed hands, so it does not tick (and cannot move the cursor).
      assert.equal(await holder.automation.tick(at(62 + LEASE_MS / 1000 + 2)), undefined);
      assert.deepEqual(holderSaw, [[first]]);
      const lease = await database.db
        .selectFrom('named_leases')
        .selectAll()
        .where('name', '=', SOAK_TICK_LEASE)
        .executeTakeFirstOrThrow();
      assert.equal(lease.holder, other.automation.ticker.holder);
      assert.equal(lease.token, 2, 'the token went up once, when the lease changed hands');
      assert.equal(new Date(lease.cursor as Date).getTime(), takeover.getTime());
    } finally {
      await close();
    }
  });

  test('a stale lease holder can neither renew, move the cursor nor record a check', async () => {
    const database = use();
    const name = `test-${++serial}`;
    const stale = (await claimNamedLease(database.db, name, 'replica-a', at(0), LEASE_MS)) as NamedLease;
    assert.ok(stale);
    assert.equal(await claimNamedLease(database.db, name, 'replica-b', at(LEASE_MS / 1000 - 1), LEASE_MS), undefined);
    const fresh = await claimNamedLease(database.db, name, 'replica-b', at(LEASE_MS / 1000 + 1), LEASE_MS);
    assert.equal(fresh?.token, stale.token + 1);
    assert.equal(await renewNamedLease(database.db, stale, at(100)), false);
    assert.equal(await advanceLeaseCursor(database.db, stale, at(100)), false);
    assert.equal(await advanceLeaseCursor(database.db, fresh as NamedLease, at(50)), true);
    assert.equal(await advanceLeaseCursor(database.db, fresh as NamedLease, at(40)), true);
    const row = await database.db
      .selectFrom('named_leases')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    assert.equal(new Date(row.cursor as Date).getTime(), at(50).getTime(), 'the cursor never moves back');
    assert.equal(
      await recordCheck(database.db, stale, { id: 'no-such-watch', tags: {}, result: {}, at: at(0), next: at(1) }),
      false,
    );
  });

  test('two replicas poll a registry once in total; a lease held by a stalled replica is taken over when it lapses', async () => {
    const database = use();
    const { a, b, close } = await twoReplicas(database);
    try {
      const name = `quiet-${++serial}`;
      const admin = { username: 'admin', isAdmin: true };
      await a.registries.put(admin, { name, url: registry.url }, 'create');
      const repository = `edge/poll-${serial}`;
      await pushImage(registry.url, repository, buildImage({ layers: [200] }), { tag: 'stable' });
      const watch = await a.poller.add(admin, `${name}/${repository}`, 3600);
      const registryId = (
        await database.db.selectFrom('registries').select('id').where('name', '=', name).executeTakeFirstOrThrow()
      ).id;

      // Both replicas find the watch due at once: one checks it (two requests), the other finds the lease held.
      const soon = new Date(Date.now() + 1000);
      const [byA, byB] = await Promise.all([a.poller.checkDue(soon), b.poller.checkDue(soon)]);
      assert.equal(byA.length + byB.length, 1, 'the watch was checked once');
      assert.deepEqual([...byA, ...byB][0]?.added, ['stable']);
      const checked = (await a.poller.list()).find((w) => w.id === watch.id);
      assert.equal(checked?.lastResult?.requests, 2);

      // A replica claims the registry's poll lease and stalls (it never renews, never records). The other replica
      // leaves the registry alone while that lease runs, and takes it over once it has lapsed.
      const later = new Date(Date.now() + 3_700_000);
      const stalled = await claimNamedLease(database.db, pollLeaseName(registryId), 'stalled-replica', later, LEASE_MS);
      assert.ok(stalled);
      assert.deepEqual(await b.poller.checkDue(later), [], 'lease held elsewhere: no check');
      const lapsed = new Date(later.getTime() + LEASE_MS + 1000);
      const [took] = await b.poller.checkDue(lapsed);
      assert.deepEqual([took?.tags, took?.added, took?.moved], [1, [], []]);
      // The stalled replica wakes up and tries to record what it saw: refused.
      assert.equal(
        await recordCheck(database.db, stalled, {
          id: watch.id,
          tags: {},
          result: { stale: true },
          at: later,
          next: later,
        }),
        false,
      );
      const after = (await b.poller.list()).find((w) => w.id === watch.id);
      assert.equal(after?.tags, 1);
      assert.equal(after?.lastResult?.requests, 2);
    } finally {
      await close();
    }
  });
});
