/**
 * Failure modes, with a fault-injecting proxy in front of real registries: transient 500/429/503 answers are retried
 * (honouring Retry-After), a source that sends corrupt bytes is refused and nothing is tagged, a registry that dies
 * mid-upload fails cleanly, a registry that refuses single-request uploads gets chunks, and a source that drops or
 * stalls a blob fails the copy within seconds, naming the registry and the blob (it took 60–181 s and said `aborted`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRegistryPair } from './helpers/registry-pair.ts';
import { buildImage } from './harness/images.ts';
import { getManifestRaw, pushImage } from './harness/push.ts';
import { copyImage } from '../src/copy/copy-image.ts';
import { DigestMismatch, NetworkError, RegistryError } from '../src/errors.ts';
import { FAST_RETRY, ref, testHost } from './helpers/hosts.ts';
import { SourceBlobFailed } from '../src/copy/source-failure.ts';
import { Agent, registryIdleTimeoutMs } from '../src/oci/http.ts';
import { openHost } from '../src/oci/registry.ts';
import type { RegistryHost } from '../src/oci/registry-client.ts';

const reg = useRegistryPair();

async function seed(repo: string, layers: number[]): Promise<ReturnType<typeof buildImage>> {
  const img = buildImage({ layers });
  await pushImage(reg.a.url, repo, img, { tag: 'v1' });
  reg.pa.clear();
  reg.pb.clear();
  return img;
}

const copy = (repo: string, target: string, events?: string[], sourceHost?: RegistryHost) =>
  copyImage({
    source: ref(`${reg.pa.host}/${repo}:v1`),
    sourceHost: sourceHost ?? testHost(reg.pa.host),
    target: ref(`${reg.pb.host}/${target}:v1`),
    targetHost: testHost(reg.pb.host),
    ...(events ? { onEvent: (e) => void events.push(e.kind) } : {}),
  });

test('transient 500, 503 and 429 answers are retried and the copy succeeds', async () => {
  const img = await seed('flaky/src', [200_000, 100_000]);
  reg.pa.addFault({ method: 'GET', pathMatch: /\/manifests\/v1$/, action: { kind: 'status', status: 503 }, times: 2 });
  reg.pa.addFault({
    method: 'GET',
    pathMatch: /\/blobs\/sha256:/,
    action: { kind: 'status', status: 500, body: '{"errors":[{"code":"UNKNOWN","message":"boom"}]}' },
    times: 2,
  });
  reg.pb.addFault({
    method: 'PUT',
    pathMatch: /\/manifests\//,
    action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
    times: 1,
  });
  const started = Date.now();
  const r = await copy('flaky/src', 'flaky/dst');
  assert.equal(r.digest, img.digest);
  assert.ok(Date.now() - started >= 900, 'Retry-After: 1 was honoured');
  assert.equal(reg.pa.requests.filter((q) => q.status === 503).length, 2);
  assert.equal(reg.pa.requests.filter((q) => q.status === 500).length, 2);
  assert.equal(reg.pb.requests.filter((q) => q.status === 429).length, 1);
  assert.equal((await getManifestRaw(reg.b.url, 'flaky/dst', 'v1')).digest, img.digest);
});

test('a persistent 5xx fails with the registry error code after the retries', async () => {
  await seed('down/src', [1000]);
  reg.pb.addFault({
    method: 'POST',
    pathMatch: /\/blobs\/uploads\//,
    action: { kind: 'status', status: 500, body: '{"errors":[{"code":"UNKNOWN","message":"disk full"}]}' },
    times: Infinity,
  });
  await assert.rejects(
    copy('down/src', 'down/dst'),
    (e: unknown) => e instanceof RegistryError && e.status === 500 && /UNKNOWN: disk full/.test(e.message),
  );
  assert.equal((await getManifestRaw(reg.b.url, 'down/dst', 'v1')).status, 404);
});

test('a source that sends corrupt bytes is refused: digest error, no tag, no blob at the target', async () => {
  const img = await seed('liar/src', [500_000, 300_000]);
  reg.pa.addFault({ method: 'GET', pathMatch: /\/blobs\/sha256:/, action: { kind: 'corrupt' }, times: 1 });
  await assert.rejects(
    copy('liar/src', 'liar/dst'),
    (e: unknown) => e instanceof DigestMismatch && /expected sha256:/.test(e.message),
  );
  assert.equal((await getManifestRaw(reg.b.url, 'liar/dst', 'v1')).status, 404);
  assert.equal((await getManifestRaw(reg.b.url, 'liar/dst', img.digest)).status, 404);
  const corrupted = reg.pa.requests.find((q) => q.method === 'GET' && q.path.includes('/blobs/'));
  const digest = corrupted?.path.split('/blobs/')[1];
  const head = await fetch(`${reg.b.url}/v2/liar/dst/blobs/${digest}`, { method: 'HEAD' });
  assert.equal(head.status, 404, 'the corrupt blob was not stored');
});

test('a registry that dies mid-upload fails cleanly, without a tag', async () => {
  await seed('dies/src', [4_000_000]);
  reg.pb.addFault({
    method: 'PUT',
    pathMatch: /\/blobs\/uploads\//,
    action: { kind: 'drop-after', bytes: 1_000_000 },
    times: Infinity,
  });
  const events: string[] = [];
  await assert.rejects(
    copy('dies/src', 'dies/dst', events),
    (e: unknown) => e instanceof NetworkError || e instanceof RegistryError,
  );
  assert.ok(events.includes('blob-retry'), 'the transfer was retried before giving up');
  assert.ok(!events.includes('tagged'));
  assert.equal((await getManifestRaw(reg.b.url, 'dies/dst', 'v1')).status, 404);
});

test('a registry that refuses single-request uploads (413) gets chunked uploads', async () => {
  const img = await seed('chunks/src', [3_000_000, 1000]);
  const big = img.blobs.find((bl) => bl.size === 3_000_000)!.digest.slice('sha256:'.length);
  reg.pb.addFault({
    method: 'PUT',
    pathMatch: new RegExp(`/blobs/uploads/.*digest=sha256%3A${big}`),
    action: { kind: 'status', status: 413 },
    times: 1,
  });
  const host = testHost(reg.pb.host);
  host.chunkSize = 1_000_000;
  const r = await copyImage({
    source: ref(`${reg.pa.host}/chunks/src:v1`),
    sourceHost: testHost(reg.pa.host),
    target: ref(`${reg.pb.host}/chunks/dst:v1`),
    targetHost: host,
  });
  assert.equal(r.digest, img.digest);
  assert.equal(host.uploadMode, 'chunked');
  // Three chunks of exactly 1,000,000 bytes for the big layer; blobs that start after the switch go in one chunk each.
  const patches = reg.pb.requests.filter((q) => q.method === 'PATCH').length;
  assert.ok(patches >= 3 && patches <= 5, `${patches} PATCH requests`);
  assert.equal((await getManifestRaw(reg.b.url, 'chunks/dst', 'v1')).digest, img.digest);
});

const BLOB_GET = /\/blobs\/sha256:/;

test('a source that drops the connection after the blob headers fails within seconds, naming registry and blob', async () => {
  const img = await seed('drops/src', [2_000_000]);
  const layer = img.blobs.find((b) => b.size === 2_000_000)!.digest;
  reg.pa.addFault({
    method: 'GET',
    pathMatch: new RegExp(`/blobs/${layer}`),
    action: { kind: 'drop-response-after', bytes: 0 },
    times: Infinity,
  });
  const events: string[] = [];
  const started = Date.now();
  await assert.rejects(copy('drops/src', 'drops/dst', events), (e: unknown) => {
    assert.ok(e instanceof SourceBlobFailed && e instanceof NetworkError, String(e));
    assert.equal(
      e.message,
      `source registry ${reg.pa.host} closed the connection while sending blob ${layer} (3 attempts)`,
    );
    return true;
  });
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < 15, `failed after ${seconds} s`);
  assert.equal(events.filter((k) => k === 'blob-retry').length, 2);
  assert.equal((await getManifestRaw(reg.b.url, 'drops/dst', 'v1')).status, 404);
});

test('a source that drops mid-body once is retried and the copy succeeds', async () => {
  const img = await seed('drops-once/src', [2_000_000, 1000]);
  reg.pa.addFault({
    method: 'GET',
    pathMatch: BLOB_GET,
    action: { kind: 'drop-response-after', bytes: 500 },
    times: 2,
  });
  const r = await copy('drops-once/src', 'drops-once/dst');
  assert.equal(r.digest, img.digest);
  assert.equal((await getManifestRaw(reg.b.url, 'drops-once/dst', 'v1')).digest, img.digest);
});

test('a source that drops the connection before any header fails fast, after the transport retries', async () => {
  await seed('hangs-up/src', [300_000]);
  reg.pa.addFault({ method: 'GET', pathMatch: BLOB_GET, action: { kind: 'drop-after', bytes: 0 }, times: Infinity });
  const started = Date.now();
  await assert.rejects(copy('hangs-up/src', 'hangs-up/dst'), (e: unknown) => {
    assert.ok(e instanceof SourceBlobFailed, String(e));
    const attempts = FAST_RETRY.retries + 1;
    assert.match(
      e.message,
      new RegExp(
        `^source registry ${reg.pa.host} closed the connection before sending blob sha256:[0-9a-f]{64} \\(${attempts} attempts\\)$`,
      ),
    );
    return true;
  });
  assert.ok(Date.now() - started < 15_000);
  assert.equal((await getManifestRaw(reg.b.url, 'hangs-up/dst', 'v1')).status, 404);
});

test('a source that stalls mid-body fails after the idle time-out, naming registry and blob', async () => {
  const img = await seed('stalls/src', [2_000_000]);
  const layer = img.blobs.find((b) => b.size === 2_000_000)!.digest;
  reg.pa.addFault({
    method: 'GET',
    pathMatch: new RegExp(`/blobs/${layer}`),
    action: { kind: 'stall-response-after', bytes: 100_000 },
    times: Infinity,
  });
  const agent = new Agent({ connections: 8, idleTimeoutMs: 1000 });
  const started = Date.now();
  try {
    const sourceHost = openHost(reg.pa.host, { insecure: true, retry: FAST_RETRY, agent });
    await assert.rejects(copy('stalls/src', 'stalls/dst', undefined, sourceHost), (e: unknown) => {
      assert.ok(e instanceof SourceBlobFailed, String(e));
      assert.equal(
        e.message,
        `source registry ${reg.pa.host} sent nothing for 1 s while sending blob ${layer} (3 attempts)`,
      );
      return true;
    });
  } finally {
    agent.destroy();
  }
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds >= 3 && seconds < 15, `failed after ${seconds} s`);
  assert.equal((await getManifestRaw(reg.b.url, 'stalls/dst', 'v1')).status, 404);
});

test('the registry idle time-out is HOIST_REGISTRY_IDLE_TIMEOUT seconds, 30 s by default', () => {
  assert.equal(registryIdleTimeoutMs({}), 30_000);
  assert.equal(registryIdleTimeoutMs({ HOIST_REGISTRY_IDLE_TIMEOUT: '5' }), 5_000);
  assert.equal(registryIdleTimeoutMs({ HOIST_REGISTRY_IDLE_TIMEOUT: 'soon' }), 30_000);
});
