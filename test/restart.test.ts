/**
 * A server killed (SIGKILL) in the middle of a promotion: after a restart the promotion is finished, exactly once,
 * and the target tag names the right digest. The copy is a 16 MiB layer across registries, read through a proxy that
 * sends it at 2 MiB/s the first time, and the kill lands once that read is under way: while bytes are moving, for
 * sure (a 256 MiB layer at full speed made that likely, for about 10 s of CPU); the lease is shortened so the
 * restarted server takes the work over quickly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness/free-port.ts';
import { startProxy, type TestProxy } from './harness/proxy.ts';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { buildImageWithBlobs, pushImage, pushLargeBlob } from './harness/push.ts';
import { seedDataDir, startServe, type Served } from './helpers/serve.ts';
import { HoistClient, signInForToken } from '../src/client/index.ts';

let dir: string;
let a: TestRegistry;
let b: TestRegistry;
let aProxy: TestProxy;
let server: Served | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-restart-'));
  [a, b] = await Promise.all([startRegistry(), startRegistry(), seedDataDir(join(dir, 'data'))]);
  aProxy = await startProxy(a.url);
});
after(async () => {
  server?.proc.kill('SIGKILL');
  await aProxy?.stop();
  await Promise.all([a?.stop(), b?.stop(), rm(dir, { recursive: true, force: true })]);
});

const serve = (port: number): Promise<Served> =>
  startServe({
    dataDir: join(dir, 'data'),
    port,
    env: {
      HOIST_ADMIN_PASSWORD: 'restart-password',
      HOIST_PROMOTION_LEASE_MS: '1500',
      HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
    },
  });

test('a promotion interrupted by SIGKILL is finished after restart, exactly once', async () => {
  const layer = await pushLargeBlob(a.url, 'dev/big', 16 << 20);
  const image = buildImageWithBlobs([layer]);
  await pushImage(a.url, 'dev/big', image, { tag: '1' });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  server = await serve(port);
  const c = new HoistClient(url, await signInForToken(url, 'admin', 'restart-password', 'restart', 1));
  await c.registries.put({ name: 'a', url: aProxy.url });
  await c.registries.put({ name: 'b', url: `http://${b.host}` });
  await c.projects.create('big');
  await c.projects.addApplication('big', 'big');
  await c.projects.grantNamespace('big', 'a', 'dev/');
  await c.projects.grantNamespace('big', 'b', 'prod/');
  await c.environments.put('big', { name: 'dev', kind: 'repository', registry: 'a', repository: 'dev/{app}' });
  await c.environments.put('big', { name: 'prod', kind: 'repository', registry: 'b', repository: 'prod/{app}' });
  await c.environments.setPipeline('big', [{ from: 'dev', to: 'prod' }]);
  await c.artifacts.register('big', 'big', { reference: `${aProxy.host}/dev/big:1` });
  aProxy.addFault({
    method: 'GET',
    pathMatch: new RegExp(`/blobs/${layer.digest}$`),
    action: { kind: 'slow', bytesPerSecond: 2 << 20 },
    times: 1,
  });
  const p = await c.promotions.request('big', 'big', { digest: image.digest, from: 'dev', to: ['prod'] });

  // Kill the server while the copy is under way.
  for (let i = 0; i < 100 && (await c.promotions.get('big', p.id)).targets[0]?.state !== 'PROMOTING'; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal((await c.promotions.get('big', p.id)).targets[0]?.state, 'PROMOTING');
  const reading = () =>
    aProxy.requests.some((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${layer.digest}`) && r.status === 200);
  for (let i = 0; i < 200 && !reading(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(reading(), 'the layer is being read (for 8 s) when the server is killed');
  server.proc.kill('SIGKILL');
  await server.exit;
  const head = await fetch(`${b.url}/v2/prod/big/manifests/1`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(head.status, 404, 'killed before the tag was written');

  server = await serve(port);
  let state = '';
  for (let i = 0; i < 300 && state !== 'PROMOTED'; i++) {
    state = (await c.promotions.get('big', p.id)).targets[0]?.state ?? '';
    if (state !== 'PROMOTED') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(state, 'PROMOTED');
  const after = await fetch(`${b.url}/v2/prod/big/manifests/1`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(after.headers.get('docker-content-digest'), image.digest);
  const promoted = (await c.audit.list({ objectType: 'promotion', objectId: p.id })).items.filter(
    (e) => e.action === 'promotion.promoted',
  );
  assert.equal(promoted.length, 1, 'exactly one promotion recorded');
  assert.equal((await c.audit.verify()).ok, true);
});
