/**
 * A release's promotion interrupted by SIGKILL between "every image copied" and "every tag written": the real
 * `hoist serve` holds the target there (HOIST_TEST_PAUSE_AFTER_COPY, a test hook) and is killed; prod has the images
 * by digest but no tag. Restarted (without the hook), the server takes the target over, finds it copied, and writes
 * each tag exactly once: one PROMOTED, one history entry and one `promotion.promoted` audit entry listing every
 * digest, and no blob uploaded again. The release is made and promoted with the `hoist` CLI, as the README says.
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
import { runCli } from './helpers/run-cli.ts';
import { seedDataDir, startServe, type Served } from './helpers/serve.ts';
import { HoistClient, signInForToken } from '../src/client/index.ts';

const APPS = ['api', 'web', 'worker'];
const PASSWORD = 'release-restart-password';
let dir: string;
let dev: TestRegistry;
let prod: TestRegistry;
let prodProxy: TestProxy;
let server: Served | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-release-restart-'));
  [dev, prod] = await Promise.all([startRegistry(), startRegistry(), seedDataDir(join(dir, 'data'))]);
  prodProxy = await startProxy(prod.url);
});
after(async () => {
  server?.proc.kill('SIGKILL');
  await prodProxy?.stop();
  await Promise.all([dev?.stop(), prod?.stop(), rm(dir, { recursive: true, force: true })]);
});

const serve = (port: number, env: Record<string, string> = {}): Promise<Served> =>
  startServe({
    dataDir: join(dir, 'data'),
    port,
    logLevel: 'info',
    env: {
      HOIST_ADMIN_PASSWORD: PASSWORD,
      HOIST_PROMOTION_LEASE_MS: '1500',
      HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
      ...env,
    },
  });

async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const prodTag = async (app: string): Promise<string | null> =>
  (
    await fetch(`${prod.url}/v2/prod/${app}/manifests/1`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    })
  ).headers.get('docker-content-digest');
const tagWrites = (): number =>
  prodProxy.requests.filter((r) => r.method === 'PUT' && /^\/v2\/prod\/[a-z]+\/manifests\/1$/.test(r.path)).length;

test('a release killed between its copies and its tags is finished after restart, each tag written once', async () => {
  const images = Object.fromEntries(APPS.map((app, i) => [app, buildImage({ layers: [20_000 + i] })]));
  for (const app of APPS) await pushImage(dev.url, `dev/${app}`, images[app]!, { tag: '1' });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  server = await serve(port, { HOIST_TEST_PAUSE_AFTER_COPY: '600000' });
  const token = await signInForToken(url, 'admin', PASSWORD, 'release-restart', 1);
  const c = new HoistClient(url, token);
  await c.registries.put({ name: 'dev', url: `http://${dev.host}` });
  await c.registries.put({ name: 'prod', url: prodProxy.url });
  await c.projects.create('shop');
  for (const app of APPS) await c.projects.addApplication('shop', app);
  await c.projects.grantNamespace('shop', 'dev', 'dev/');
  await c.projects.grantNamespace('shop', 'prod', 'prod/');
  await c.environments.put('shop', { name: 'dev', kind: 'repository', registry: 'dev', repository: 'dev/{app}' });
  await c.environments.put('shop', { name: 'prod', kind: 'repository', registry: 'prod', repository: 'prod/{app}' });
  await c.environments.setPipeline('shop', [{ from: 'dev', to: 'prod' }]);
  for (const app of APPS) await c.artifacts.register('shop', app, { reference: `${dev.host}/dev/${app}:1` });

  const cli = (...args: string[]) => runCli(args, { HOIST_SERVER: url, HOIST_TOKEN: token });
  const made = await cli('release', 'create', 'shop-1.0', '--project', 'shop', '--from', 'dev', '-o', 'json');
  assert.equal(made.code, 0, made.stderr);
  assert.deepEqual(
    (JSON.parse(made.stdout) as { applications: Array<{ digest: string }> }).applications.map((a) => a.digest),
    APPS.map((app) => images[app]?.digest),
  );
  const asked = await cli('release', 'promote', 'shop-1.0', '--project', 'shop', '--to', 'prod', '-o', 'json');
  assert.equal(asked.code, 0, asked.stderr);
  const id = (JSON.parse(asked.stdout) as { id: string }).id;

  // The server holds the target after its copies; kill it there.
  await until('every image to be copied', async () =>
    /release copied; pausing before the tags/.test(server?.output() ?? '') ? true : undefined,
  );
  server.proc.kill('SIGKILL');
  await server.exit;
  for (const app of APPS) assert.equal(await prodTag(app), null, `${app}: killed before its tag was written`);
  assert.equal(tagWrites(), 0);
  // The blobs uploaded (by digest: a monolithic POST or the PUT that ends an upload).
  const uploaded = () =>
    prodProxy.requests.flatMap((r) =>
      (r.method === 'PUT' || r.method === 'POST') && /\/blobs\/uploads\//.test(r.path)
        ? [...r.path.matchAll(/[?&]digest=([^&]+)/g)].map((m) => decodeURIComponent(m[1] ?? ''))
        : [],
    );
  const copied = new Set(uploaded());
  assert.ok(copied.size > 0, 'the images were copied before the kill');
  const seen = prodProxy.requests.length;

  server = await serve(port);
  await until('the release to be promoted', async () =>
    (await c.promotions.get('shop', id)).targets[0]?.state === 'PROMOTED' ? true : undefined,
  );
  for (const app of APPS) assert.equal(await prodTag(app), images[app]?.digest, `${app} in prod`);
  assert.equal(tagWrites(), 3, 'each tag written once');
  // After the restart, only the attestations' own blobs (attached after PROMOTED): none of the images' again.
  const again = prodProxy.requests
    .slice(seen)
    .flatMap((r) => [...r.path.matchAll(/[?&]digest=([^&]+)/g)].map((m) => decodeURIComponent(m[1] ?? '')))
    .filter((d) => copied.has(d));
  assert.deepEqual(again, [], 'nothing uploaded again after the restart');
  const promoted = (await c.audit.list({ objectType: 'promotion', objectId: id })).items.filter(
    (e) => e.action === 'promotion.promoted',
  );
  assert.equal(promoted.length, 1, 'one audit entry');
  const history = (await c.promotions.history('shop', { env: 'prod' })).filter((e) => e.request === id);
  assert.equal(history.length, 1, 'one history entry');
  assert.deepEqual(
    history[0]?.release?.applications.map((a) => a.digest),
    APPS.map((app) => images[app]?.digest),
  );
  const shown = await cli('release', 'show', 'shop-1.0', '--project', 'shop');
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /PROMOTED/);
  assert.equal((await c.audit.verify()).ok, true);
});
