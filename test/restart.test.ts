/**
 * A server killed (SIGKILL) in the middle of a promotion: after a restart the promotion is finished, exactly once,
 * and the target tag names the right digest. The copy is a 256 MiB layer across registries, so the kill lands while
 * bytes are moving; the lease is shortened so the restarted server takes the work over quickly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness/free-port.ts';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { buildImageWithBlobs, pushImage, pushLargeBlob } from './harness/push.ts';
import { HoistClient, signInForToken } from '../src/client/index.ts';

const ENTRY = fileURLToPath(new URL('../dist/hoist.mjs', import.meta.url));
let dir: string;
let a: TestRegistry;
let b: TestRegistry;
let server: ChildProcess | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-restart-'));
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
});
after(async () => {
  server?.kill('SIGKILL');
  await Promise.all([a?.stop(), b?.stop(), rm(dir, { recursive: true, force: true })]);
});

async function serve(port: number): Promise<ChildProcess> {
  const proc = spawn(
    process.execPath,
    [ENTRY, 'serve', '--port', String(port), '--data-dir', join(dir, 'data'), '--log-level', 'warn'],
    {
      env: {
        ...process.env,
        HOIST_ADMIN_PASSWORD: 'restart-password',
        HOIST_PROMOTION_LEASE_MS: '1500',
        HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
      },
      stdio: 'ignore',
    },
  );
  // A first start migrates the embedded database: on a loaded 2-core machine that can take a while. Give up early
  // only when the process has exited.
  for (let i = 0; i < 900 && proc.exitCode === null; i++) {
    if (
      await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return proc;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`hoist serve did not start (exit code ${proc.exitCode ?? 'none, killed after 90 s'})`);
}

test('a promotion interrupted by SIGKILL is finished after restart, exactly once', async () => {
  const layer = await pushLargeBlob(a.url, 'dev/big', 256 << 20);
  const image = buildImageWithBlobs([layer]);
  await pushImage(a.url, 'dev/big', image, { tag: '1' });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  server = await serve(port);
  const c = new HoistClient(url, await signInForToken(url, 'admin', 'restart-password', 'restart', 1));
  await c.registries.put({ name: 'a', url: `http://${a.host}` });
  await c.registries.put({ name: 'b', url: `http://${b.host}` });
  await c.projects.create('big');
  await c.projects.addApplication('big', 'big');
  await c.projects.grantNamespace('big', 'a', 'dev/');
  await c.projects.grantNamespace('big', 'b', 'prod/');
  await c.environments.put('big', { name: 'dev', kind: 'repository', registry: 'a', repository: 'dev/{app}' });
  await c.environments.put('big', { name: 'prod', kind: 'repository', registry: 'b', repository: 'prod/{app}' });
  await c.environments.setPipeline('big', [{ from: 'dev', to: 'prod' }]);
  await c.artifacts.register('big', 'big', { reference: `${a.host}/dev/big:1` });
  const p = await c.promotions.request('big', 'big', { digest: image.digest, from: 'dev', to: ['prod'] });

  // Kill the server while the copy is under way.
  for (let i = 0; i < 100 && (await c.promotions.get('big', p.id)).targets[0]?.state !== 'PROMOTING'; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal((await c.promotions.get('big', p.id)).targets[0]?.state, 'PROMOTING');
  await new Promise((r) => setTimeout(r, 300));
  server.kill('SIGKILL');
  await new Promise((r) => server?.once('exit', r));
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
