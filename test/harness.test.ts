// Proves the test harness itself: real distribution registries start with each auth kind, pushed images read back
// byte-exact through skopeo (the reference peer), the proxy counts requests and injects its faults, large blobs
// stream, and notifications arrive.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  SBOM_ARTIFACT,
  SIGNATURE_ARTIFACT,
  buildArtifact,
  buildImage,
  buildMultiPlatform,
  sha256,
} from './harness/images.ts';
import { MANIFEST_ACCEPT, MediaTypes } from './harness/media-types.ts';
import { startProxy, type TestProxy } from './harness/proxy.ts';
import { buildImageWithBlobs, getManifestRaw, pushImage, pushLargeBlob, pushReferrer } from './harness/push.ts';
import { startRegistry, type RegistryAuthKind, type TestRegistry } from './harness/registry.ts';
import { skopeoInspectRaw } from './harness/skopeo.ts';

const alice = { username: 'alice', password: 'wonderland' };
const registries = new Map<RegistryAuthKind, TestRegistry>();

before(async () => {
  const kinds: RegistryAuthKind[] = ['none', 'basic', 'token'];
  const started = await Promise.all(kinds.map((auth) => startRegistry({ auth })));
  for (const r of started) registries.set(r.auth, r);
});

after(async () => {
  await Promise.all([...registries.values()].map((r) => r.stop()));
});

function registry(kind: RegistryAuthKind): TestRegistry {
  const r = registries.get(kind);
  assert.ok(r, `registry ${kind} started`);
  return r;
}

for (const kind of ['none', 'basic', 'token'] as const) {
  void describe(`registry with auth=${kind}`, () => {
    const creds = kind === 'none' ? undefined : alice;

    void test('a single docker image reads back byte-exact through skopeo', async () => {
      const r = registry(kind);
      const image = buildImage({ layers: [1024, 2048], format: 'docker', labels: { team: 'core' } });
      await pushImage(r.url, 'app/single', image, { tag: 'v1', creds });
      const raw = await skopeoInspectRaw(`${r.host}/app/single:v1`, creds);
      assert.equal(sha256(raw), image.digest);
      const got = await getManifestRaw(r.url, 'app/single', 'v1', { creds });
      assert.equal(got.status, 200);
      assert.equal(got.mediaType, MediaTypes.dockerManifest);
      assert.equal(got.digest, image.digest);
    });

    void test('an OCI 3-platform index and its children', async () => {
      const r = registry(kind);
      const index = buildMultiPlatform(3, [512], { format: 'oci' });
      await pushImage(r.url, 'app/multi', index, { tag: 'v1', creds });
      assert.equal(sha256(await skopeoInspectRaw(`${r.host}/app/multi:v1`, creds)), index.digest);
      const arm = index.children[2];
      assert.deepEqual(arm?.platform, { os: 'linux', architecture: 'arm', variant: 'v7' });
      assert.equal(sha256(await skopeoInspectRaw(`${r.host}/app/multi@${arm?.digest}`, creds)), arm?.digest);
    });

    if (kind !== 'none') {
      void test('requests without credentials get 401', async () => {
        const r = registry(kind);
        const res = await fetch(`${r.url}/v2/`);
        await res.body?.cancel();
        assert.equal(res.status, 401);
        const challenge = res.headers.get('www-authenticate') ?? '';
        const bearer = /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="hoist-test-registry"/;
        const expected = kind === 'basic' ? /^Basic realm="hoist-test"/ : bearer;
        assert.match(challenge, expected);
        await assert.rejects(pushImage(r.url, 'app/anon', buildImage({ layers: [10] })), /401/);
        await assert.rejects(
          pushImage(r.url, 'app/anon', buildImage({ layers: [10] }), { creds: { username: 'alice', password: 'no' } }),
          /401/,
        );
      });
    }
  });
}

void describe('token issuer', () => {
  void test('issues tokens with the requested access and counts requests', async () => {
    const r = registry('token');
    const before = r.tokenRequests?.() ?? -1;
    await pushImage(r.url, 'app/counted', buildImage({ layers: [100] }), { tag: 'x', creds: alice });
    assert.ok((r.tokenRequests?.() ?? 0) > before);
    const challenge = (await fetch(`${r.url}/v2/app/counted/tags/list`)).headers.get('www-authenticate') ?? '';
    const realm = /realm="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const url = `${realm}?service=hoist-test-registry&scope=repository:app/counted:pull`;
    const auth = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
    const body = (await (await fetch(url, { headers: { Authorization: auth } })).json()) as { token: string };
    const claims = JSON.parse(Buffer.from(body.token.split('.')[1] ?? '', 'base64url').toString()) as {
      access: unknown;
      aud: string;
    };
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'app/counted', actions: ['pull'] }]);
    assert.equal(claims.aud, 'hoist-test-registry');
    const tags = await fetch(`${r.url}/v2/app/counted/tags/list`, {
      headers: { Authorization: `Bearer ${body.token}` },
    });
    assert.deepEqual(await tags.json(), { name: 'app/counted', tags: ['x'] });
    const anonymous = (await (await fetch(url)).json()) as { token: string };
    const denied = await fetch(`${r.url}/v2/app/counted/tags/list`, {
      headers: { Authorization: `Bearer ${anonymous.token}` },
    });
    await denied.body?.cancel();
    assert.equal(denied.status, 401);
  });
});

void describe('formats and artifacts', () => {
  void test('a docker schema2 manifest list', async () => {
    const r = registry('none');
    const list = buildMultiPlatform(2, [256, 256], { format: 'docker' });
    await pushImage(r.url, 'app/list', list, { tag: 'v1' });
    const got = await getManifestRaw(r.url, 'app/list', 'v1');
    assert.equal(got.mediaType, MediaTypes.dockerManifestList);
    assert.equal(sha256(await skopeoInspectRaw(`${r.host}/app/list:v1`)), list.digest);
  });

  void test('shared layers are reused', () => {
    const base = buildImage({ layers: [100, 200] });
    const derived = buildImage({ layers: [1, 1, 300], shareLayersWith: base });
    assert.deepEqual(
      derived.blobs.slice(1, 3).map((b) => b.digest),
      base.blobs.slice(1).map((b) => b.digest),
    );
    assert.equal(derived.blobs[3]?.size, 300);
  });

  void test('artifact referrers are kept in the sha256-<hex> tag index', async () => {
    const r = registry('basic');
    const subject = buildImage({ layers: [128] });
    await pushImage(r.url, 'app/signed', subject, { tag: 'v1', creds: alice });
    const sig = buildArtifact(subject, { artifactType: SIGNATURE_ARTIFACT, annotations: { 'dev.hoist.test': 'sig' } });
    const spdx = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
    const sbom = buildArtifact(subject, { artifactType: SBOM_ARTIFACT, content: spdx });
    await pushReferrer(r.url, 'app/signed', sig, { creds: alice });
    await pushReferrer(r.url, 'app/signed', sbom, { creds: alice });
    const tag = subject.digest.replace(':', '-');
    const got = await getManifestRaw(r.url, 'app/signed', tag, { creds: alice });
    assert.equal(got.status, 200);
    assert.equal(got.mediaType, MediaTypes.ociIndex);
    const index = JSON.parse(got.bytes?.toString() ?? '{}') as { manifests: Record<string, unknown>[] };
    assert.deepEqual(index.manifests, [
      {
        mediaType: MediaTypes.ociManifest,
        digest: sig.digest,
        size: sig.size,
        artifactType: SIGNATURE_ARTIFACT,
        annotations: { 'dev.hoist.test': 'sig' },
      },
      { mediaType: MediaTypes.ociManifest, digest: sbom.digest, size: sbom.size, artifactType: SBOM_ARTIFACT },
    ]);
    const raw = await skopeoInspectRaw(`${r.host}/app/signed@${sig.digest}`, alice);
    assert.equal(sha256(raw), sig.digest);
    const parsed = JSON.parse(raw.toString()) as { subject: { digest: string }; config: { mediaType: string } };
    assert.equal(parsed.subject.digest, subject.digest);
    assert.equal(parsed.config.mediaType, MediaTypes.ociEmpty);
  });

  void test('a 64 MiB blob streams up in chunks and HEAD shows its size', async () => {
    const r = registry('token');
    const size = 64 * 1024 * 1024;
    const blob = await pushLargeBlob(r.url, 'app/large', size, { creds: alice });
    assert.equal(blob.size, size);
    assert.equal(blob.data.length, 0);
    const image = buildImageWithBlobs([blob], { format: 'docker' });
    await pushImage(r.url, 'app/large', image, { tag: 'big', creds: alice });
    const token = await bearerFor(r, 'app/large');
    const head = await fetch(`${r.url}/v2/app/large/blobs/${blob.digest}`, {
      method: 'HEAD',
      headers: { Authorization: token },
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(size));
    assert.equal(head.headers.get('docker-content-digest'), blob.digest);
  });
});

void describe('proxy', () => {
  let proxy: TestProxy;
  before(async () => {
    proxy = await startProxy(registry('none').url);
  });
  after(async () => {
    await proxy.stop();
  });

  void test('pushes through the proxy and counts requests; Location points back at the proxy', async () => {
    proxy.clear();
    const image = buildImage({ layers: [1000] });
    await pushImage(proxy.url, 'via/proxy', image, { tag: 'v1' });
    const methods = proxy.requests.map((q) => `${q.method} ${q.status}`);
    assert.deepEqual(methods, [
      'HEAD 404',
      'POST 202',
      'PUT 201', // config
      'HEAD 404',
      'POST 202',
      'PUT 201', // layer
      'PUT 201', // manifest
    ]);
    assert.ok(proxy.requests.every((q) => q.path.startsWith('/v2/via/proxy/')));
    const res = await fetch(`${proxy.url}/v2/via/proxy/blobs/uploads/`, { method: 'POST' });
    await res.body?.cancel();
    assert.ok(res.headers.get('location')?.startsWith(`${proxy.url}/v2/via/proxy/blobs/uploads/`));
  });

  void test('a status fault answers instead of the registry, then forwarding resumes', async () => {
    proxy.clear();
    const image = buildImage({ layers: [10] });
    await pushImage(proxy.url, 'via/fault', image, { tag: 'v1' });
    proxy.addFault({
      method: 'GET',
      pathMatch: /\/manifests\//,
      action: { kind: 'status', status: 500, body: '{"errors":[{"code":"UNKNOWN"}]}' },
      times: 1,
    });
    assert.equal((await getManifestRaw(proxy.url, 'via/fault', 'v1')).status, 500);
    const second = await getManifestRaw(proxy.url, 'via/fault', 'v1');
    assert.equal(second.status, 200);
    assert.equal(second.digest, image.digest);
    const gets = proxy.requests.filter((q) => q.method === 'GET');
    assert.deepEqual(
      gets.map((q) => q.status),
      [500, 200],
    );
  });

  void test('corrupt flips one byte of a blob and keeps its length', async () => {
    proxy.clear();
    const image = buildImage({ layers: [4096] });
    await pushImage(proxy.url, 'via/corrupt', image, { tag: 'v1' });
    const layer = image.blobs[1];
    assert.ok(layer);
    proxy.addFault({ pathMatch: /\/blobs\/sha256:/, action: { kind: 'corrupt' }, times: 1 });
    const url = `${proxy.url}/v2/via/corrupt/blobs/${layer.digest}`;
    const bad = Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.equal(bad.length, layer.size);
    assert.notEqual(sha256(bad), layer.digest);
    assert.notEqual(bad[2048], layer.data[2048]);
    assert.equal(countDifferences(bad, layer.data), 1);
    const good = Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.equal(sha256(good), layer.digest);
  });

  void test('slow sends a blob no faster than asked, whole; the next read is at full speed', async () => {
    proxy.clear();
    const image = buildImage({ layers: [256 * 1024] });
    await pushImage(proxy.url, 'via/slow', image, { tag: 'v1' });
    const layer = image.blobs[1];
    assert.ok(layer);
    proxy.addFault({ pathMatch: /\/blobs\/sha256:/, action: { kind: 'slow', bytesPerSecond: 128 * 1024 }, times: 1 });
    const url = `${proxy.url}/v2/via/slow/blobs/${layer.digest}`;
    let started = Date.now();
    const slow = Buffer.from(await (await fetch(url)).arrayBuffer());
    const slowMs = Date.now() - started;
    assert.equal(sha256(slow), layer.digest);
    assert.ok(slowMs >= 1800, `256 KiB at 128 KiB/s took ${slowMs} ms`);
    started = Date.now();
    assert.equal(sha256(Buffer.from(await (await fetch(url)).arrayBuffer())), layer.digest);
    assert.ok(Date.now() - started < slowMs, 'the fault applied once');
  });

  void test('drop-after kills an upload mid-body; the next upload goes through', async () => {
    proxy.clear();
    proxy.addFault({
      method: 'PATCH',
      pathMatch: /\/blobs\/uploads\//,
      action: { kind: 'drop-after', bytes: 1 << 20 },
      times: 1,
    });
    await assert.rejects(pushLargeBlob(proxy.url, 'via/drop', 12 * 1024 * 1024));
    assert.deepEqual(
      proxy.requests.map((q) => `${q.method} ${q.status}`),
      ['POST 202', 'PATCH 0'],
    );
    const blob = await pushLargeBlob(proxy.url, 'via/drop', 12 * 1024 * 1024);
    const head = await fetch(`${proxy.url}/v2/via/drop/blobs/${blob.digest}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(blob.size));
  });
});

void describe('notifications', () => {
  void test('a push is reported to notificationsUrl', async () => {
    const events: { action: string; target: { digest: string; tag?: string; mediaType: string } }[] = [];
    let contentType = '';
    const sink = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        contentType = req.headers['content-type'] ?? '';
        events.push(...(JSON.parse(Buffer.concat(chunks).toString()) as { events: typeof events }).events);
        res.end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const address = sink.address();
    assert.ok(address !== null && typeof address === 'object');
    const r = await startRegistry({ notificationsUrl: `http://127.0.0.1:${address.port}/events` });
    try {
      const image = buildImage({ layers: [64] });
      await pushImage(r.url, 'app/notified', image, { tag: 'v1' });
      const deadline = Date.now() + 10_000;
      const pushed = (): boolean =>
        events.some((e) => e.action === 'push' && e.target.digest === image.digest && e.target.tag === 'v1');
      while (!pushed() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(pushed(), `manifest push event; got ${JSON.stringify(events.map((e) => e.action))}`);
      assert.match(contentType, /^application\/vnd\.docker\.distribution\.events\.v\d\+json/);
    } finally {
      await r.stop();
      await new Promise<void>((resolve) => {
        sink.close(() => resolve());
        sink.closeAllConnections();
      });
    }
  });
});

void describe('registry lifecycle', () => {
  void test('stop() removes the storage directory and frees the port', async () => {
    const r = await startRegistry();
    assert.ok(existsSync(r.dataDir));
    await r.stop();
    assert.equal(existsSync(r.dataDir), false);
    await assert.rejects(fetch(`${r.url}/v2/`, { headers: { Accept: MANIFEST_ACCEPT } }));
  });
});

async function bearerFor(r: TestRegistry, repo: string): Promise<string> {
  const challenge = (await fetch(`${r.url}/v2/`)).headers.get('www-authenticate') ?? '';
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1] ?? '';
  const url = `${realm}?service=hoist-test-registry&scope=repository:${repo}:pull`;
  const basic = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
  const body = (await (await fetch(url, { headers: { Authorization: basic } })).json()) as { token: string };
  return `Bearer ${body.token}`;
}

function countDifferences(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) n++;
  return n;
}
