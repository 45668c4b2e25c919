/**
 * Two replicas (two sets of services, two HTTP servers, both working push events and promotions) on one real
 * PostgreSQL, and a real distribution registry whose notifications go to the first. A burst of pushes to dev arrives
 * there; a second actor sends every one of them again to the second replica's generic hook (other event ids: both
 * replicas work the same digest and tag at the same moment), some twice and some before the registry's own, and adds
 * a correctly signed event for a tag the registry does not have and an image re-tagged from a tag no rule matches to
 * one that does. Each image is promoted to staging exactly once (one PROMOTED target, one audit entry, one tag
 * write); the lie promotes nothing; the re-tagged digest is promoted once, for its new tag.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { buildServer } from '../../src/api/server.ts';
import type { App, Services } from '../../src/api/context.ts';
import { createServices } from '../../src/api/services.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { findUserByName } from '../../src/store/accounts.repository.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage, type TestManifest } from '../harness/images.ts';
import { getManifestRaw, pushImage } from '../harness/push.ts';
import { caller, LOOPBACK_CIDRS, TEST_PASSWORD_COST, type Call } from '../helpers/api.ts';
import { freshPostgres } from '../helpers/backends.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SECRET = 'intake-replicas-secret-0123456789abcdef';
const GENERIC = 'intake-replicas-generic-0123456789abcdef';
const P = '/api/v1/projects/shop';
const BURST = 12;

interface Replica {
  database: Database;
  services: Services;
  app: App;
  url: string;
}

const replicas: Replica[] = [];
let reg: TestRegistry;
let root: Call;

const first = (): Replica => replicas[0] as Replica;
const second = (): Replica => replicas[1] as Replica;

/** An event as the second actor sends it to the second replica: the generic hook, its own ids. */
const generic = (id: string, tag: string, digest: string): Promise<Response> =>
  fetch(`${second().url}/api/v1/hooks/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${GENERIC}` },
    body: JSON.stringify({ id, repository: 'dev/web', tag, digest }),
  });

before(async () => {
  const url = await freshPostgres();
  const box = new SecretBox(randomBytes(32));
  for (let i = 0; i < 2; i++) {
    const database = await openDatabase({ url });
    const services = createServices(database, box, {
      outbound: OutboundPolicy.fromList(LOOPBACK_CIDRS),
      accounts: { passwordCost: TEST_PASSWORD_COST },
    });
    const app = await buildServer(services);
    replicas.push({ database, services, app, url: await app.listen({ port: 0, host: '127.0.0.1' }) });
  }
  reg = await startRegistry({
    notificationsUrl: `${first().url}/api/v1/hooks/distribution`,
    notificationHeaders: { Authorization: `Bearer ${SECRET}` },
    notificationIgnoredActions: ['pull'],
  });
  const accounts = first().services.accounts;
  const user =
    (await findUserByName(first().database.db, 'root')) ??
    (await accounts.createUser({ username: 'test' }, { username: 'root', password: 'root-password', isAdmin: true }));
  root = caller(first().app, (await accounts.createToken({ userId: user.id, username: 'root' }, 'test')).token);
  await root('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
  assert.equal((await root('PUT', '/api/v1/registries/local/hooks/distribution', { secret: SECRET })).status, 200);
  assert.equal((await root('PUT', '/api/v1/registries/local/hooks/generic', { secret: GENERIC })).status, 200);
  await root('POST', '/api/v1/projects', { name: 'shop' });
  for (const prefix of ['dev/', 'staging/']) await root('PUT', `${P}/namespaces`, { registry: 'local', prefix });
  await root('POST', `${P}/applications`, { name: 'web' });
  for (const env of ['dev', 'staging'])
    await root('PUT', `${P}/environments/${env}`, {
      kind: 'repository',
      registry: 'local',
      repository: `${env}/{app}`,
    });
  await root('PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] });
  const rule = await root('POST', `${P}/rules`, {
    name: 'flow',
    from: 'dev',
    to: 'staging',
    criteria: [{ field: 'tag', op: 'startsWith', value: 'b' }],
  });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));
  for (const r of replicas) {
    await r.services.intake.start();
    await r.services.runner.start();
  }
});

after(async () => {
  for (const r of replicas) {
    await r.services.intake.stop();
    await r.services.runner.stop();
    await r.app.close();
    await r.database.close();
  }
  await reg?.stop();
});

/** Per digest: PROMOTED staging targets, `promotion.promoted` audit entries, and staging tag writes reported. */
async function counts(digests: readonly string[]) {
  const db = first().database.db;
  const byDigest = (rows: Array<{ digest: string; n: string | number }>) =>
    new Map(rows.map((r) => [r.digest, Number(r.n)]));
  const targets = await sql<{ digest: string; n: string }>`
    SELECT r.digest, count(*) AS n FROM promotion_targets t JOIN promotion_requests r ON r.id = t.request_id
    JOIN environments e ON e.id = t.environment_id
    WHERE e.name = 'staging' AND t.state = 'PROMOTED' AND r.digest = ANY(${digests}) GROUP BY r.digest`.execute(db);
  const audits = await sql<{ digest: string; n: string }>`
    SELECT summary->>'digest' AS digest, count(*) AS n FROM audit_log
    WHERE action = 'promotion.promoted' AND summary->>'digest' = ANY(${digests}) GROUP BY 1`.execute(db);
  const requests = await sql<{ digest: string; n: string }>`
    SELECT digest, count(*) AS n FROM promotion_requests WHERE digest = ANY(${digests}) GROUP BY digest`.execute(db);
  return { targets: byDigest(targets.rows), audits: byDigest(audits.rows), requests: byDigest(requests.rows) };
}

test('two replicas working the same burst, duplicated and out of order, promote each image exactly once', async () => {
  const images: TestManifest[] = Array.from({ length: BURST }, () => buildImage({ layers: [700] }));
  // Out of order: the second actor announces half of the images before they are pushed (the registry has no such
  // tag yet: the event is confirmed only once it does, or ignored).
  const early = images.slice(0, BURST / 2).map((img, i) => generic(`early-${i}`, `b${i}`, img.digest));
  await Promise.all(early);
  await Promise.all(images.map((img, i) => pushImage(reg.url, 'dev/web', img, { tag: `b${i}` })));
  // Then every one again, some twice, while the first replica works the registry's own events.
  await Promise.all(
    images.flatMap((img, i) => [
      generic(`late-${i}`, `b${i}`, img.digest),
      ...(i % 3 === 0 ? [generic(`late-${i}`, `b${i}`, img.digest), generic(`again-${i}`, `b${i}`, img.digest)] : []),
    ]),
  );
  // A correctly signed lie: a tag the registry does not have, for a digest it does.
  const lie = buildImage({ layers: [700] });
  await pushImage(reg.url, 'dev/web', lie, { tag: 'dev-lie' });
  assert.equal((await generic('lie', 'b-lie', lie.digest)).status, 200);
  // Re-tagged: built as dev-rt (no rule matches), tagged b-rt later; both replicas hear of the new tag.
  const retagged = buildImage({ layers: [700] });
  await pushImage(reg.url, 'dev/web', retagged, { tag: 'dev-rt' });
  await pushImage(reg.url, 'dev/web', retagged, { tag: 'b-rt' });
  await generic('rt', 'b-rt', retagged.digest);

  const digests = [...images.map((i) => i.digest), retagged.digest];
  await waitFor(
    'every image promoted to staging',
    async () => {
      const c = await counts(digests);
      return digests.every((d) => c.targets.get(d) === 1) || undefined;
    },
    120_000,
  );
  // Let every event still pending be worked by either replica: none may promote again.
  await waitFor(
    'every event worked',
    async () => {
      const r = await sql<{ n: string }>`
        SELECT count(*) AS n FROM push_events WHERE state IN ('PENDING', 'WORKING')`.execute(first().database.db);
      return Number(r.rows[0]?.n) === 0 || undefined;
    },
    60_000,
  );
  const c = await counts([...digests, lie.digest]);
  for (const d of digests) {
    assert.equal(c.targets.get(d), 1, `${d}: PROMOTED targets`);
    assert.equal(c.audits.get(d), 1, `${d}: promotion.promoted audit entries`);
    assert.equal(c.requests.get(d), 1, `${d}: promotion requests`);
  }
  for (const [i, img] of images.entries())
    assert.equal((await getManifestRaw(reg.url, 'staging/web', `b${i}`)).digest, img.digest);
  assert.equal((await getManifestRaw(reg.url, 'staging/web', 'b-rt')).digest, retagged.digest);
  assert.equal(c.requests.get(lie.digest), undefined, 'the lie opened no request');
  assert.equal((await getManifestRaw(reg.url, 'staging/web', 'b-lie')).status, 404);
  const lies = await sql<{ state: string; outcome: string | null }>`
    SELECT state, outcome FROM push_events WHERE tag = 'b-lie'`.execute(first().database.db);
  assert.equal(lies.rows.length, 1);
  assert.equal(lies.rows[0]?.state, 'IGNORED');
  assert.match(lies.rows[0]?.outcome ?? '', /dev\/web:b-lie does not exist in the registry/);
  // Both replicas worked events of the burst (not one of them alone).
  assert.ok(first().services.intake.queue.outcomes.done > 0, 'the first replica worked events');
  assert.ok(second().services.intake.queue.outcomes.done > 0, 'the second replica worked events');
});
