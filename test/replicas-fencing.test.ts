/**
 * Fencing with two real `hoist serve` replicas on one real PostgreSQL. Replica A claims a promotion to prod and is
 * copying when it is paused (SIGSTOP) — its read of the layer is held by a proxy in front of dev, so it is mid-copy —
 * for much longer than its lease. Replica B takes the promotion over and finishes it, then a newer image is promoted
 * to prod and finishes. Then A resumes (SIGCONT) and its held read is let through. A must act on nothing: prod's tag
 * still names the newer digest, `promotion.promoted` is recorded once per target, A wrote no tag, and the audit chain
 * both replicas wrote verifies on each.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness/free-port.ts';
import { startProxy, type TestProxy } from './harness/proxy.ts';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { buildImage } from './harness/images.ts';
import { pushImage } from './harness/push.ts';
import { freshPostgres } from './helpers/backends.ts';
import { startServe, type Served } from './helpers/serve.ts';
import { HoistClient, signInForToken } from '../src/client/index.ts';

const LEASE_MS = 2000;
const PASSWORD = 'fencing-password';
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

let dir: string;
let dev: TestRegistry;
let prod: TestRegistry;
let devProxy: TestProxy;
let prodProxy: TestProxy;
let databaseUrl: string;
const servers: Served[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-fencing-'));
  [dev, prod] = await Promise.all([startRegistry(), startRegistry()]);
  [devProxy, prodProxy] = await Promise.all([startProxy(dev.url), startProxy(prod.url)]);
  databaseUrl = await freshPostgres(); // migrated: the replicas' first start is not what this is about
});
after(async () => {
  for (const s of servers) {
    s.proc.kill('SIGCONT');
    s.proc.kill('SIGKILL');
  }
  await Promise.all([devProxy?.stop(), prodProxy?.stop()]);
  await Promise.all([dev?.stop(), prod?.stop(), rm(dir, { recursive: true, force: true })]);
});

/** A replica: `hoist serve` on PostgreSQL with a short promotion lease; answers once it is ready. */
async function replica(port: number): Promise<Served> {
  const served = await startServe({
    dataDir: join(dir, 'data'),
    port,
    env: {
      HOIST_DATABASE_URL: databaseUrl,
      HOIST_ADMIN_PASSWORD: PASSWORD,
      HOIST_PROMOTION_LEASE_MS: String(LEASE_MS),
      HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
    },
  });
  servers.push(served);
  return served;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const prodTag = async (): Promise<string | null> =>
  (await fetch(`${prod.url}/v2/prod/web/manifests/1`, { method: 'HEAD', headers: { accept: ACCEPT } })).headers.get(
    'docker-content-digest',
  );
const tagWrites = (): number =>
  prodProxy.requests.filter((r) => r.method === 'PUT' && r.path === '/v2/prod/web/manifests/1').length;

test('a replica paused past its lease mid-copy resumes after another finished its promotion and a newer one, and writes nothing', async () => {
  const older = buildImage({ layers: [64 << 10] });
  const newer = buildImage({ layers: [64 << 10] });
  const olderLayer = older.blobs[1]?.digest as string;
  await pushImage(dev.url, 'dev/web', older, { tag: '1' });

  const portA = await freePort();
  const a = await replica(portA);
  const urlA = `http://127.0.0.1:${portA}`;
  const onA = new HoistClient(urlA, await signInForToken(urlA, 'admin', PASSWORD, 'fencing-a', 1));
  await onA.registries.put({ name: 'dev', url: devProxy.url });
  await onA.registries.put({ name: 'prod', url: prodProxy.url });
  await onA.projects.create('shop');
  await onA.projects.addApplication('shop', 'web');
  await onA.projects.grantNamespace('shop', 'dev', 'dev/');
  await onA.projects.grantNamespace('shop', 'prod', 'prod/');
  await onA.environments.put('shop', { name: 'dev', kind: 'repository', registry: 'dev', repository: 'dev/{app}' });
  await onA.environments.put('shop', { name: 'prod', kind: 'repository', registry: 'prod', repository: 'prod/{app}' });
  await onA.environments.setPipeline('shop', [{ from: 'dev', to: 'prod' }]);
  await onA.artifacts.register('shop', 'web', { reference: `${devProxy.host}/dev/web:1` });

  // A claims the promotion; its read of the layer from dev is held: A is mid-copy.
  devProxy.addFault({
    method: 'GET',
    pathMatch: new RegExp(`/blobs/${olderLayer}$`),
    action: { kind: 'stall' },
    times: 1,
  });
  const first = await onA.promotions.request('shop', 'web', { digest: older.digest, from: 'dev', to: ['prod'] });
  await until('A to be mid-copy', async () => (devProxy.stalled() === 1 ? true : undefined));
  assert.equal((await onA.promotions.get('shop', first.id)).targets[0]?.state, 'PROMOTING');

  // B joins while A still holds (and renews) the lease, then A is paused for far longer than its lease.
  const portB = await freePort();
  await replica(portB);
  const urlB = `http://127.0.0.1:${portB}`;
  const onB = new HoistClient(urlB, await signInForToken(urlB, 'admin', PASSWORD, 'fencing-b', 1));
  assert.equal((await onB.promotions.get('shop', first.id)).targets[0]?.state, 'PROMOTING', 'B left it to A');
  a.proc.kill('SIGSTOP');

  // B takes the promotion over once A's lease has lapsed, and finishes it.
  await until('B to finish the first promotion', async () =>
    (await onB.promotions.get('shop', first.id)).targets[0]?.state === 'PROMOTED' ? true : undefined,
  );
  assert.equal(await prodTag(), older.digest);

  // A newer image is promoted to prod (by B, A still paused) and finishes.
  await pushImage(dev.url, 'dev/web', newer, { tag: '1' });
  await onB.artifacts.register('shop', 'web', { reference: `${devProxy.host}/dev/web:1` });
  const second = await onB.promotions.request('shop', 'web', { digest: newer.digest, from: 'dev', to: ['prod'] });
  await until('the newer promotion to finish', async () =>
    (await onB.promotions.get('shop', second.id)).targets[0]?.state === 'PROMOTED' ? true : undefined,
  );
  assert.equal(await prodTag(), newer.digest);
  const writesBefore = tagWrites();
  assert.equal(writesBefore, 2, 'B wrote the tag once per promotion');

  // A resumes; its held read goes through, so its copy can finish. It must notice that its lease is gone.
  a.proc.kill('SIGCONT');
  devProxy.releaseStalled();
  // A is alive and answering again (its event loop ran its overdue lease renewal first).
  await until('A to answer again', async () =>
    (await fetch(`${urlA}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
      ? true
      : undefined,
  );
  // A notices that its lease is gone and abandons the job (its log says so), then gets a lease period more to act on
  // whatever it still believed; then look at what it did.
  await until('A to abandon its job', async () =>
    /job abandoned: its lease is held by another worker now|lease is held by another worker now; left to it/.test(
      a.output(),
    )
      ? true
      : undefined,
  );
  await new Promise((r) => setTimeout(r, LEASE_MS));

  assert.equal(await prodTag(), newer.digest, "prod's tag still names the newer image");
  assert.equal(tagWrites(), writesBefore, 'A wrote no tag');
  const promoted = async (id: string) =>
    (await onB.audit.list({ objectType: 'promotion', objectId: id, limit: 100 })).items.filter(
      (e) => e.action === 'promotion.promoted',
    );
  assert.equal((await promoted(first.id)).length, 1, 'the first promotion recorded once');
  assert.equal((await promoted(second.id)).length, 1, 'the newer promotion recorded once');
  const targets = [
    (await onB.promotions.get('shop', first.id)).targets[0]?.state,
    (await onB.promotions.get('shop', second.id)).targets[0]?.state,
  ];
  assert.deepEqual(targets, ['PROMOTED', 'PROMOTED']);
  const where = (await onB.artifacts.get('shop', 'web', newer.digest)).environments.map((e) => e.environment);
  assert.ok(where.includes('prod'), 'the newer image is where prod is');
  // Both replicas wrote audit rows without a shared lock (migration 0026); sealed after commit, they form one chain
  // that verifies on either replica.
  for (const client of [onA, onB]) {
    const verdict = await client.audit.verify();
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
  }
});
