/**
 * The copy's early starts stay verified and bounded: a platform manifest is pushed as soon as its own blobs are at the
 * target (the index and the tag only after all of them), blobs are looked up while the target is still asked about
 * their manifest (lookups that copy nothing, whose failure does not fail a copy that needs none of them), an index's
 * platform manifests are read while the target is asked about the index, small blobs travel in slots of their own
 * beside the large ones, and a target that claims a blob it lacks is still caught before any tag is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRegistryPair } from './helpers/registry-pair.ts';
import { buildImage, buildMultiPlatform } from './harness/images.ts';
import { getManifestRaw, pushImage } from './harness/push.ts';
import { copyImage, type CopyImageOptions } from '../src/copy/copy-image.ts';
import { RegistryError } from '../src/errors.ts';
import { ref, testHost } from './helpers/hosts.ts';

const reg = useRegistryPair();

/** copyImage from `src` at `from` to `dst` at `to` (proxies' hosts; repository[:tag]), each through its host. */
const copyBetween = (from: string, src: string, to: string, dst: string, o: Partial<CopyImageOptions> = {}) =>
  copyImage({
    source: ref(`${from}/${src}`),
    sourceHost: testHost(from),
    target: ref(`${to}/${dst}`),
    targetHost: testHost(to),
    ...o,
  });

const manifestPuts = (path: string) => reg.pb.requests.filter((q) => q.method === 'PUT' && q.path === path);

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a platform manifest is pushed once its own blobs are there; the index and its tag wait for every platform', async () => {
  const idx = buildMultiPlatform(3, [200_000, 100_000]);
  await pushImage(reg.a.url, 'early/src', idx, { tag: 'v1' });
  const [first, second, third] = idx.children as [
    (typeof idx.children)[0],
    (typeof idx.children)[0],
    (typeof idx.children)[0],
  ];
  // The third platform's largest layer is held at the source until the others are pushed.
  const held = third.blobs[1]?.digest;
  assert.ok(held);
  reg.pa.clear();
  reg.pb.clear();
  reg.pa.addFault({ method: 'GET', pathMatch: new RegExp(`/blobs/${held}$`), action: { kind: 'stall' }, times: 1 });
  const copying = copyBetween(reg.pa.host, 'early/src:v1', reg.pb.host, 'early/dst');
  await until('the held blob is asked for', () => reg.pa.stalled() === 1);
  for (const child of [first, second])
    await until(
      `platform ${child.digest} is pushed`,
      () => manifestPuts(`/v2/early/dst/manifests/${child.digest}`).length === 1,
    );
  assert.equal(manifestPuts(`/v2/early/dst/manifests/${third.digest}`).length, 0, 'not before its blobs');
  assert.equal(manifestPuts('/v2/early/dst/manifests/v1').length, 0, 'no tag while a platform is incomplete');
  assert.equal((await getManifestRaw(reg.b.url, 'early/dst', 'v1')).status, 404);
  reg.pa.releaseStalled();
  const r = await copying;
  assert.equal(r.digest, idx.digest);
  assert.equal(r.manifestsPushed, 4);
  assert.equal((await getManifestRaw(reg.b.url, 'early/dst', 'v1')).digest, idx.digest);
  const puts = reg.pb.requests.filter((q) => q.method === 'PUT' && q.path.includes('/manifests/')).map((q) => q.path);
  assert.equal(puts.at(-1), '/v2/early/dst/manifests/v1', 'the index goes last, by its tag');
});

test('blobs looked up while their manifest is asked about copy nothing when it is present, and their failure is not the copy’s', async () => {
  const img = buildImage({ layers: [30_000, 40_000] });
  await pushImage(reg.a.url, 'probe/src', img, { tag: 'v1' });
  const copy = (tag: string) => copyBetween(reg.pa.host, 'probe/src:v1', reg.pb.host, `probe/dst:${tag}`);
  await copy('one');
  reg.pa.clear();
  reg.pb.clear();
  // The image is at the target under another tag: the new tag's HEAD does not tell, the digest's HEAD does. Meanwhile
  // its blobs are looked up, and one lookup is refused.
  reg.pb.addFault({
    method: 'HEAD',
    pathMatch: new RegExp(`/blobs/${img.blobs[1]?.digest}$`),
    action: { kind: 'status', status: 403 },
    times: Infinity,
  });
  const r = await copy('two');
  assert.equal(r.digest, img.digest);
  assert.equal(r.blobsStreamed + r.bytesStreamed + r.manifestsPushed, 0);
  assert.ok(
    reg.pb.requests.some((q) => q.method === 'HEAD' && q.path.includes('/blobs/') && q.status === 403),
    'the blobs were looked up while the manifest was asked about',
  );
  assert.deepEqual(
    reg.pa.requests.filter((q) => q.path.includes('/blobs/')),
    [],
    'no blob read from the source',
  );
  assert.deepEqual(
    reg.pb.requests.filter((q) => q.path.includes('/blobs/uploads/')),
    [],
    'no upload to the target',
  );
  assert.equal((await getManifestRaw(reg.b.url, 'probe/dst', 'two')).digest, img.digest);
  assert.ok(reg.pb.stalled() === 0);
});

test('a target that claims a blob it lacks is caught by the manifest push: the copy fails and no tag is written', async () => {
  const img = buildImage({ layers: [1_500_000, 20_000] });
  await pushImage(reg.a.url, 'lies/src', img, { tag: 'v1' });
  const lied = img.blobs[1];
  assert.ok(lied);
  reg.pb.clear();
  reg.pb.addFault({
    method: 'HEAD',
    pathMatch: new RegExp(`/blobs/${lied.digest}$`),
    // A HEAD's answer has no body; the proxy sends the length of this one.
    action: { kind: 'status', status: 200, body: 'x'.repeat(lied.size) },
    times: Infinity,
  });
  await assert.rejects(
    copyBetween(reg.pa.host, 'lies/src:v1', reg.pb.host, 'lies/dst:v1'),
    (e: unknown) => e instanceof RegistryError && e.status >= 400 && e.status < 500,
  );
  assert.equal((await getManifestRaw(reg.b.url, 'lies/dst', 'v1')).status, 404);
  assert.equal((await getManifestRaw(reg.b.url, 'lies/dst', img.digest)).status, 404);
});

test('small blobs go several at once in slots of their own, beside a large transfer', async () => {
  const img = buildImage({ layers: [1_200_000, 10_000, 11_000, 12_000, 13_000] });
  await pushImage(reg.a.url, 'small/src', img, { tag: 'v1' });
  const [, large, ...small] = img.blobs;
  assert.ok(large && small.length === 4);
  reg.pa.clear();
  reg.pb.clear();
  // Every small layer is held at the source: with one transfer slot, they are held all at once, and the large layer
  // is copied meanwhile.
  reg.pa.addFault({
    method: 'GET',
    pathMatch: new RegExp(`/blobs/(${small.map((b) => b.digest).join('|')})$`),
    action: { kind: 'stall' },
    times: small.length,
  });
  const copying = copyBetween(reg.pa.host, 'small/src:v1', reg.pb.host, 'small/dst:v1', { concurrency: 1 });
  await until('every small layer is asked for at once', () => reg.pa.stalled() === small.length);
  await until('the large layer is at the target', () =>
    reg.pb.requests.some(
      (q) => q.method === 'PUT' && q.path.includes(`digest=${encodeURIComponent(large.digest)}`) && q.status === 201,
    ),
  );
  assert.equal(manifestPuts('/v2/small/dst/manifests/v1').length, 0, 'no tag while blobs are missing');
  reg.pa.releaseStalled();
  const r = await copying;
  assert.equal(r.blobsStreamed, img.blobs.length);
  assert.equal((await getManifestRaw(reg.b.url, 'small/dst', 'v1')).digest, img.digest);
});

test('an index’s platform manifests are read while the target is asked about the index; a present index copies nothing', async () => {
  const idx = buildMultiPlatform(2, [20_000]);
  await pushImage(reg.a.url, 'ahead/src', idx, { tag: 'v1' });
  reg.pa.clear();
  reg.pb.clear();
  reg.pb.addFault({
    method: 'HEAD',
    pathMatch: new RegExp(`/manifests/${idx.digest}$`),
    action: { kind: 'stall' },
    times: 1,
  });
  const copy = (tag: string) => copyBetween(reg.pa.host, 'ahead/src:v1', reg.pb.host, `ahead/dst:${tag}`);
  const copying = copy('one');
  await until('the index is asked about', () => reg.pb.stalled() === 1);
  for (const child of idx.children) {
    await until(`platform ${child.digest} is read and asked about`, () =>
      [
        reg.pa.requests.some((q) => q.method === 'GET' && q.path === `/v2/ahead/src/manifests/${child.digest}`),
        reg.pb.requests.some((q) => q.method === 'HEAD' && q.path === `/v2/ahead/dst/manifests/${child.digest}`),
      ].every(Boolean),
    );
  }
  assert.deepEqual(
    reg.pb.requests.filter((q) => q.path.includes('/blobs/uploads/')),
    [],
    'nothing is copied before the index is known to be absent',
  );
  reg.pb.releaseStalled();
  assert.equal((await copying).manifestsPushed, 3);
  assert.equal((await getManifestRaw(reg.b.url, 'ahead/dst', 'one')).digest, idx.digest);

  // Present under another tag: the platforms are read ahead all the same, and nothing is copied.
  reg.pa.clear();
  reg.pb.clear();
  const again = await copy('two');
  assert.equal(again.blobsStreamed + again.bytesStreamed + again.manifestsPushed, 0);
  assert.deepEqual(
    reg.pb.requests.filter((q) => q.path.includes('/blobs/uploads/') || q.method === 'PUT').map((q) => q.path),
    ['/v2/ahead/dst/manifests/two'],
    'only the tag is written',
  );
});

test('within one registry the blobs are mounted while the target is asked about their manifest; present, the copy writes only the tag', async () => {
  const img = buildImage({ layers: [30_000, 40_000] });
  await pushImage(reg.a.url, 'within/src', img, { tag: 'v1' });
  const copy = (tag: string) =>
    copyBetween(reg.pa.host, 'within/src:v1', reg.pa.host, `within/dst:${tag}`, { referrers: false });
  const mounts = () => reg.pa.requests.filter((q) => q.method === 'POST' && q.path.includes('mount='));
  reg.pa.clear();
  // The target's answer about the manifest is held until every blob has been mounted.
  reg.pa.addFault({
    method: 'HEAD',
    pathMatch: new RegExp(`^/v2/within/dst/manifests/${img.digest}$`),
    action: { kind: 'stall' },
    times: 1,
  });
  const copying = copy('one');
  await until('the manifest is asked about', () => reg.pa.stalled() === 1);
  await until('every blob is mounted while the question is out', () => mounts().length === img.blobs.length);
  reg.pa.releaseStalled();
  const r = await copying;
  assert.equal(r.blobsMounted, img.blobs.length);
  assert.equal(r.bytesStreamed, 0);
  assert.equal((await getManifestRaw(reg.a.url, 'within/dst', 'one')).digest, img.digest);

  // Present by digest under another tag: the mounts change nothing there, nothing streams, the new tag is written.
  reg.pa.clear();
  const again = await copy('two');
  assert.equal(again.bytesStreamed + again.blobsStreamed, 0);
  assert.ok(mounts().length <= img.blobs.length, 'each blob mounted at most once');
  assert.deepEqual(
    reg.pa.requests.filter((q) => q.method === 'PUT').map((q) => q.path),
    ['/v2/within/dst/manifests/two'],
    'only the tag is written',
  );
  assert.equal((await getManifestRaw(reg.a.url, 'within/dst', 'two')).digest, img.digest);
});
