/**
 * SQL round trips of the promotion floor, counted with a Kysely plugin on both backends: a one-target request is at
 * most 3 statements in one transaction (5 round trips with BEGIN and COMMIT; it was 32 before the plan/execute
 * rebuild, 6 before the audit row was appended unsealed in one statement, migration 0026), a decision a constant
 * handful, carrying one out from its claim to PROMOTED at most 9 (it was 12 to 14 before the location, the attestation
 * job's wake-up, the fence, the newer-promotion check and the webhooks were merged), automation's look at the arrival
 * 1 (was 3), an attestation 7 once the signing key exists (was 15: its facts, and keeping it, in one statement each),
 * and a page of `GET …/promotions` the same count for 1 or 20 requests. Concurrent requests (second actors, on PostgreSQL really at
 * once) leave an audit chain that verifies and one live event each.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildServer } from '../../src/api/server.ts';
import { createServices } from '../../src/api/services.ts';
import type { App, Services } from '../../src/api/context.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import type { Database } from '../../src/store/database.ts';
import { BACKENDS, freshDatabase } from '../helpers/backends.ts';
import { caller, LOOPBACK_CIDRS, type Call } from '../helpers/api.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { QueryCounter } from '../helpers/query-counter.ts';
import { listAudit, verifyAudit } from '../../src/store/audit.repository.ts';
import { liveEventBounds, liveEventsAfter } from '../../src/store/live-events.repository.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
const image = buildImage({ layers: [500] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '1.0' });
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`promotion round trips [${backend}]`, () => {
    const counter = new QueryCounter();
    let database: Database;
    let services: Services;
    let app: App;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const P = '/api/v1/projects/shop';
    before(async () => {
      database = await freshDatabase(backend);
      services = createServices({ ...database, db: database.db.withPlugin(counter) }, new SecretBox(randomBytes(32)), {
        outbound: OutboundPolicy.fromList(LOOPBACK_CIDRS),
      });
      await services.accounts.bootstrapAdmin('round-trips-password');
      app = await buildServer(services);
      const admin = await services.accounts.login('admin', 'round-trips-password', '127.0.0.1');
      const token = (await services.accounts.createToken({ userId: admin.id, username: 'admin' }, 't')).token;
      const pat = await services.accounts.createUser(
        { username: 'admin' },
        { username: 'pat', password: 'pat-password-1' },
      );
      const patToken = (await services.accounts.createToken({ userId: pat.id, username: 'pat' }, 't')).token;
      as = (who, ...rest) => caller(app, who === 'pat' ? patToken : token)(...rest);
      await as('admin', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('admin', 'POST', '/api/v1/projects', { name: 'shop' });
      await as('admin', 'POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'staging'])
        await as('admin', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: `${env}/` });
      for (const env of ['dev', 'staging'])
        await as('admin', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('admin', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] });
      await as('admin', 'POST', `${P}/members`, { username: 'pat', role: 'promoter' });
      await as('admin', 'POST', '/api/v1/policies', { name: 'one', approverCount: 1 });
      await as('admin', 'POST', '/api/v1/policies/one/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
      const registered = await as('admin', 'POST', `${P}/applications/web/artifacts`, {
        reference: `${reg.host}/dev/web:1.0`,
      });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
    });
    after(async () => {
      await app?.close();
      await database?.close();
    });

    const promote = () =>
      services.promotions.request({ username: 'admin', isAdmin: true }, 'shop', 'web', {
        digest: image.digest,
        from: 'dev',
        to: ['staging'],
      });

    test('a one-target request: at most 3 statements (5 round trips with BEGIN/COMMIT)', async (t) => {
      const n = await counter.during(promote);
      t.diagnostic(`one-target request: ${n} statements + BEGIN/COMMIT = ${n + 2} round trips`);
      assert.ok(n <= 3, `${n} statements`);
    });

    test('a decision: a constant handful of statements', async (t) => {
      const p = await promote();
      const identity = {
        username: 'pat',
        isAdmin: false,
        memberships: [{ project: 'shop', role: 'promoter' as const, environments: null }],
      };
      const n = await counter.during(() => services.promotions.decide(identity, p.id, 'shop', 'approve', ''));
      // One of them asks whether the request is a release's (decided on every application's policy).
      // The answer is the request as GET shows it: 4 of them read it (request, targets, decisions, and the request's
      // audit entries for each target's timeline).
      t.diagnostic(`approve: ${n} statements + BEGIN/COMMIT = ${n + 2} round trips (4 of them read the answer)`);
      assert.ok(n <= 12, `${n} statements`);
    });

    test('carrying out a promotion: at most 9 statements, claim to PROMOTED; automation looks with 1; an attestation with a handful', async (t) => {
      const identity = {
        username: 'pat',
        isAdmin: false,
        memberships: [{ project: 'shop', role: 'promoter' as const, environments: null }],
      };
      // Two queued targets (the decision test queued one): the first writes the tag (fenced, with the newer-promotion
      // check and the webhooks in one statement), the second finds it written already.
      await services.promotions.decide(identity, (await promote()).id, 'shop', 'approve', '');
      const arrived: string[] = [];
      const onPromoted = services.runner.onPromoted;
      services.runner.onPromoted = (id) => arrived.push(id);
      try {
        for (const write of ['writes the tag', 'tag written already']) {
          const counted = arrived.length;
          const n = await counter.during(() => services.runner.runOne());
          assert.equal(arrived.length, counted + 1, 'a target was carried out to PROMOTED');
          t.diagnostic(`carrying out (${write}): ${n} statements, claim and load included`);
          assert.ok(n <= 9, `${n} statements (${write})`);
        }
        const look = await counter.during(() => services.automation.consider([arrived[0] as string]));
        t.diagnostic(`automation's look at an arrival (no rule, no binding): ${look} statement(s)`);
        assert.equal(look, 1);
        // The first attestation also makes the signing key and seals the audit chain (no sealer runs here).
        for (const [which, most] of [
          ['first', 16],
          ['second', 7],
        ] as const) {
          const attach = await counter.during(async () => assert.ok(await services.attestor?.runOne()));
          t.diagnostic(`attaching the ${which} attestation: ${attach} statements, claim included`);
          assert.ok(attach <= most, `${attach} statements (${which})`);
        }
      } finally {
        services.runner.onPromoted = onPromoted;
      }
    });

    test('concurrent requests: the audit chain verifies with every request in it, and each has its live event', async () => {
      const before = (await liveEventBounds(database.db)).latest;
      const made = await Promise.all(Array.from({ length: 12 }, () => promote()));
      const verdict = await verifyAudit(database.db);
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      const audited = new Set(
        (await listAudit(database.db, { objectType: 'promotion', limit: 1000 })).map((r) => r.objectId),
      );
      for (const p of made) assert.ok(audited.has(p.id), `request ${p.id} in the verified chain`);
      const events = await liveEventsAfter(database.db, { afterId: before, limit: 1000 });
      const requested = events.filter((e) => e.type === 'promotion.requested').map((e) => e.data.requestId);
      assert.deepEqual(new Set(requested), new Set(made.map((p) => p.id)));
      assert.deepEqual(
        events.map((e) => e.id),
        [...events.map((e) => e.id)].sort((a, b) => a - b),
      );
    });

    test('a page of GET …/promotions: the same count for 1 or 20 requests (not one per row)', async (t) => {
      const page = (limit: number) => counter.during(() => as('admin', 'GET', `${P}/promotions?limit=${limit}`));
      await as('admin', 'GET', `${P}/promotions?limit=1`); // who the token is, kept for a few seconds (identity cache)
      const one = await page(1);
      while ((await services.promotions.list('shop', { limit: 50 })).items.length < 20) await promote();
      await as('admin', 'GET', `${P}/promotions?limit=1`);
      const twenty = await page(20);
      t.diagnostic(`GET …/promotions: ${one} statements for 1 request, ${twenty} for 20 (the caller known)`);
      assert.equal(twenty, one);
    });
  });
}
