/**
 * The copy engine against real distribution registries: same-registry mounts, cross-registry streams, indexes and
 * docker manifest lists keeping their digest (checked with skopeo), referrers, and re-copies that send nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { TestProxy } from './harness/proxy.ts';
import { useRegistryPair } from './helpers/registry-pair.ts';
import {
  buildArtifact,
  buildImage,
  buildIndex,
  buildMultiPlatform,
  SBOM_ARTIFACT,
  SIGNATURE_ARTIFACT,
} from './harness/images.ts';
import { getManifestRaw, pushImage, pushReferrer } from './harness/push.ts';
import { skopeoInspectRaw } from './harness/skopeo.ts';
import { copyImage } from '../src/copy/copy-image.ts';
import { openRepository } from '../src/oci/registry.ts';
import { ref, testHost } from './helpers/hosts.ts';

const reg = useRegistryPair();

const blobUploads = (p: TestProxy) =>
  p.requests.filter((r) => (r.method === 'PUT' && r.path.includes('/blobs/uploads/')) || r.method === 'PATCH');
const blobReads = (p: TestProxy) => p.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/sha256:'));

test('a same-registry copy mounts every blob and uploads no blob bytes', async () => {
  const img = buildImage({ layers: [300_000, 200_000, 100_000] });
  await pushImage(reg.a.url, 'dev/mount', img, { tag: '1.0' });
  reg.pa.clear();
  const host = testHost(reg.pa.host);
  const r = await copyImage({
    source: ref(`${reg.pa.host}/dev/mount:1.0`),
    sourceHost: host,
    target: ref(`${reg.pa.host}/prod/mount`),
    targetHost: host,
  });
  assert.equal(r.digest, img.digest);
  assert.equal(r.blobsMounted, 4);
  assert.equal(r.blobsStreamed, 0);
  assert.equal(r.bytesStreamed, 0);
  assert.deepEqual(blobUploads(reg.pa), []);
  assert.deepEqual(blobReads(reg.pa), []);
  assert.ok(reg.pa.requests.some((q) => q.method === 'POST' && q.path.includes('mount=') && q.status === 201));
  const raw = await getManifestRaw(reg.a.url, 'prod/mount', '1.0');
  assert.equal(raw.digest, img.digest);
});

test('a cross-registry copy of a 3-platform OCI index keeps its digest (checked with skopeo)', async () => {
  const idx = buildMultiPlatform(3, [150_000, 50_000]);
  await pushImage(reg.a.url, 'dev/multi', idx, { tag: 'v3' });
  const r = await copyImage({
    source: ref(`${reg.a.host}/dev/multi:v3`),
    sourceHost: testHost(reg.a.host),
    target: ref(`${reg.b.host}/prod/multi`),
    targetHost: testHost(reg.b.host),
  });
  assert.equal(r.digest, idx.digest);
  assert.equal(r.blobsStreamed, 9);
  assert.equal(r.manifestsPushed, 4);
  const raw = await skopeoInspectRaw(`${reg.b.host}/prod/multi:v3`);
  assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, idx.digest);
  for (const child of idx.children)
    assert.equal((await getManifestRaw(reg.b.url, 'prod/multi', child.digest)).status, 200);
});

test('docker schema2 manifest lists and images copy byte-exact', async () => {
  const list = buildIndex(
    [
      buildImage({ layers: [1000], format: 'docker', platform: { os: 'linux', architecture: 'amd64' } }),
      buildImage({ layers: [2000], format: 'docker', platform: { os: 'linux', architecture: 'arm64' } }),
    ],
    { format: 'docker' },
  );
  await pushImage(reg.a.url, 'dev/docker', list, { tag: 'list' });
  const r = await copyImage({
    source: ref(`${reg.a.host}/dev/docker:list`),
    sourceHost: testHost(reg.a.host),
    target: ref(`${reg.b.host}/prod/docker:copied`),
    targetHost: testHost(reg.b.host),
  });
  assert.equal(r.digest, list.digest);
  const raw = await getManifestRaw(reg.b.url, 'prod/docker', 'copied');
  assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  assert.equal(raw.digest, list.digest);
});

test('referrers of the image and of its platform manifests arrive and are discoverable at the target', async () => {
  const idx = buildMultiPlatform(3, [10_000]);
  await pushImage(reg.a.url, 'dev/signed', idx, { tag: '1' });
  const sig = buildArtifact(idx, { artifactType: SIGNATURE_ARTIFACT });
  const sbom = buildArtifact(idx.children[1]!, { artifactType: SBOM_ARTIFACT });
  await pushReferrer(reg.a.url, 'dev/signed', sig);
  await pushReferrer(reg.a.url, 'dev/signed', sbom);
  const r = await copyImage({
    source: ref(`${reg.a.host}/dev/signed:1`),
    sourceHost: testHost(reg.a.host),
    target: ref(`${reg.b.host}/prod/signed`),
    targetHost: testHost(reg.b.host),
  });
  assert.equal(r.referrersCopied, 2);
  const target = openRepository(testHost(reg.b.host), 'prod/signed');
  assert.deepEqual(
    (await target.referrers(idx.digest)).map((d) => [d.digest, d.artifactType]),
    [[sig.digest, SIGNATURE_ARTIFACT]],
  );
  assert.deepEqual(
    (await target.referrers(idx.children[1]!.digest)).map((d) => [d.digest, d.artifactType]),
    [[sbom.digest, SBOM_ARTIFACT]],
  );
  assert.equal((await getManifestRaw(reg.b.url, 'prod/signed', sig.digest)).digest, sig.digest);

  // A signature added at the source later arrives with the next copy, although the image itself is present.
  const sig2 = buildArtifact(idx, { artifactType: SIGNATURE_ARTIFACT, annotations: { n: '2' } });
  await pushReferrer(reg.a.url, 'dev/signed', sig2);
  const again = await copyImage({
    source: ref(`${reg.a.host}/dev/signed:1`),
    sourceHost: testHost(reg.a.host),
    target: ref(`${reg.b.host}/prod/signed`),
    targetHost: testHost(reg.b.host),
  });
  assert.equal(again.referrersCopied, 1);
  assert.deepEqual((await target.referrers(idx.digest)).map((d) => d.digest).sort(), [sig.digest, sig2.digest].sort());

  // --no-referrers copies the image alone.
  const bare = await copyImage({
    source: ref(`${reg.a.host}/dev/signed:1`),
    sourceHost: testHost(reg.a.host),
    target: ref(`${reg.b.host}/bare/signed`),
    targetHost: testHost(reg.b.host),
    referrers: false,
  });
  assert.equal(bare.referrersCopied, 0);
  assert.deepEqual(await openRepository(testHost(reg.b.host), 'bare/signed').referrers(idx.digest), []);
});

test('a re-copy of a present image sends no blob; without referrers it is two requests', async () => {
  const img = buildImage({ layers: [50_000, 60_000] });
  await pushImage(reg.a.url, 'dev/again', img, { tag: 't' });
  const copy = (referrers: boolean) =>
    copyImage({
      source: ref(`${reg.pa.host}/dev/again:t`),
      sourceHost: testHost(reg.pa.host),
      target: ref(`${reg.pb.host}/prod/again`),
      targetHost: testHost(reg.pb.host),
      referrers,
    });
  await copy(true);
  reg.pa.clear();
  reg.pb.clear();
  const r = await copy(false);
  assert.equal(r.bytesStreamed + r.blobsMounted + r.blobsStreamed + r.manifestsPushed, 0);
  assert.equal(
    reg.pa.requests.length + reg.pb.requests.length,
    2,
    JSON.stringify([...reg.pa.requests, ...reg.pb.requests]),
  );
  reg.pa.clear();
  reg.pb.clear();
  const withReferrers = await copy(true);
  assert.equal(withReferrers.manifestsPushed, 0);
  assert.deepEqual([...blobReads(reg.pa), ...blobUploads(reg.pb)], []);
});

test('a target tag can be moved onto the copied digest, and extra tags are written', async () => {
  const one = buildImage({ layers: [1000] });
  const two = buildImage({ layers: [2000] });
  await pushImage(reg.a.url, 'dev/move', one, { tag: 'one' });
  await pushImage(reg.a.url, 'dev/move', two, { tag: 'two' });
  const host = testHost(reg.a.host);
  await copyImage({
    source: ref(`${reg.a.host}/dev/move:one`),
    sourceHost: host,
    target: ref(`${reg.a.host}/prod/move:live`),
    targetHost: host,
  });
  const r = await copyImage({
    source: ref(`${reg.a.host}/dev/move:two`),
    sourceHost: host,
    target: ref(`${reg.a.host}/prod/move:live`),
    targetHost: host,
    extraTags: ['2.0'],
  });
  assert.deepEqual(r.tags, ['live', '2.0']);
  assert.equal((await getManifestRaw(reg.a.url, 'prod/move', 'live')).digest, two.digest);
  assert.equal((await getManifestRaw(reg.a.url, 'prod/move', '2.0')).digest, two.digest);
});

test('beforeTags runs once, right before the first tag; when it throws, no tag is written and the manifest goes by its tag only', async () => {
  const img = buildImage({ layers: [1500] });
  await pushImage(reg.a.url, 'dev/fence', img, { tag: 'src' });
  const host = testHost(reg.pa.host);
  const manifestPuts = () =>
    reg.pa.requests.filter((q) => q.method === 'PUT' && q.path.includes('/prod/fence/manifests/')).map((q) => q.path);
  reg.pa.clear();
  await assert.rejects(
    copyImage({
      source: ref(`${reg.pa.host}/dev/fence:src`),
      sourceHost: host,
      target: { ...ref(`${reg.pa.host}/prod/fence:live`), digest: img.digest },
      targetHost: host,
      tagHead: null,
      beforeTags: async () => {
        throw new Error('claim lost');
      },
    }),
    /claim lost/,
  );
  assert.deepEqual(manifestPuts(), [], 'neither the tag nor the manifest by digest');
  assert.ok(!reg.pa.requests.some((q) => q.method === 'HEAD' && q.path.endsWith('/manifests/live')), 'tag not asked');
  reg.pa.clear();
  let fenced = 0;
  await copyImage({
    source: ref(`${reg.pa.host}/dev/fence:src`),
    sourceHost: host,
    target: { ...ref(`${reg.pa.host}/prod/fence:live`), digest: img.digest },
    targetHost: host,
    extraTags: ['2.0'],
    beforeTags: async () => {
      fenced++;
      assert.deepEqual(manifestPuts(), [], 'before any manifest of the image is written');
    },
  });
  assert.equal(fenced, 1);
  assert.deepEqual(manifestPuts(), ['/v2/prod/fence/manifests/live', '/v2/prod/fence/manifests/2.0']);
  assert.equal((await getManifestRaw(reg.a.url, 'prod/fence', 'live')).digest, img.digest);
});

test('a destination digest must be the source digest', async () => {
  const img = buildImage({ layers: [10] });
  await pushImage(reg.a.url, 'dev/dig', img, { tag: 'x' });
  const wrong = `sha256:${'0'.repeat(64)}`;
  await assert.rejects(
    copyImage({
      source: ref(`${reg.a.host}/dev/dig:x`),
      sourceHost: testHost(reg.a.host),
      target: ref(`${reg.b.host}/prod/dig@${wrong}`),
      targetHost: testHost(reg.b.host),
    }),
    /destination digest: the source is sha256:/,
  );
  const r = await copyImage({
    source: ref(`${reg.a.host}/dev/dig:x`),
    sourceHost: testHost(reg.a.host),
    target: ref(`${reg.b.host}/prod/dig@${img.digest}`),
    targetHost: testHost(reg.b.host),
  });
  assert.deepEqual(r.tags, []);
  assert.equal((await getManifestRaw(reg.b.url, 'prod/dig', img.digest)).status, 200);
});
