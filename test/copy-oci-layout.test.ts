/**
 * `hoist copy oci:DIR[:TAG] DST`: an OCI image layout on disk as the source (how `npm run image` pushes hoist's
 * image). A multi-platform index with a signature listed beside it arrives digest for digest with the signature as a
 * referrer; a tag the layout does not name and a directory that is not a layout are clear errors; a corrupted blob
 * fails the copy on its digest and leaves no tag at the target.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import {
  buildArtifact,
  buildMultiPlatform,
  buildImage,
  SIGNATURE_ARTIFACT,
  type TestManifest,
} from './harness/images.ts';
import { getManifestRaw } from './harness/push.ts';
import { skopeoInspectRaw } from './harness/skopeo.ts';
import { runCli } from './helpers/run-cli.ts';
import { testHost } from './helpers/hosts.ts';
import { copyImage } from '../src/copy/copy-image.ts';
import { DigestMismatch } from '../src/errors.ts';
import { OciLayout } from '../src/oci/oci-layout.ts';
import { openRepository } from '../src/oci/registry.ts';

let registry: TestRegistry;
let work: string;

before(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'hoist-oci-layout-'));
});
after(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Writes a layout holding `images` (tagged or not) and every blob and child manifest they need. */
function writeLayout(name: string, images: Array<{ manifest: TestManifest; tag?: string }>): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (digest: string, bytes: Buffer): void =>
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  const walk = (m: TestManifest): void => {
    put(m.digest, m.bytes);
    for (const b of m.blobs) put(b.digest, b.data);
    m.children.forEach(walk);
  };
  for (const { manifest } of images) walk(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map(({ manifest, tag }) => ({
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.size,
        ...(tag !== undefined ? { annotations: { 'org.opencontainers.image.ref.name': tag } } : {}),
      })),
    }),
  );
  return dir;
}

test('a multi-platform index and its signature are copied from a layout digest for digest', async () => {
  const index = buildMultiPlatform(2, [50_000, 20_000]);
  const signature = buildArtifact(index, { artifactType: SIGNATURE_ARTIFACT });
  const dir = writeLayout('multi', [{ manifest: index, tag: 'v1' }, { manifest: signature }]);
  const layout = OciLayout.open(dir);
  assert.deepEqual(layout.tags(), ['v1']);
  const target = testHost(registry.host);
  const r = await copyImage({
    source: { registry: layout.name, repository: '', tag: 'v1' },
    sourceHost: layout,
    target: { registry: registry.host, repository: 'app/multi' },
    targetHost: target,
  });
  assert.equal(r.digest, index.digest);
  assert.deepEqual(r.tags, ['v1'], 'the layout tag is kept when the target names none');
  assert.equal(r.source, `oci:${dir}@${index.digest}`);
  assert.equal(r.referrersCopied, 1);
  assert.deepEqual(await skopeoInspectRaw(`${registry.host}/app/multi:v1`), index.bytes);
  const referrers = await openRepository(target, 'app/multi').referrers(index.digest);
  assert.deepEqual(
    referrers.map((d) => d.digest),
    [signature.digest],
  );
});

test('the CLI names a missing tag and a directory that is not a layout', async () => {
  const dir = writeLayout('single', [{ manifest: buildImage({ layers: [1000] }), tag: 'v1' }]);
  const missing = await runCli([
    'copy',
    `oci:${dir}:v2`,
    `${registry.host}/app/single:v2`,
    '--insecure-registry',
    registry.host,
    '-q',
  ]);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /MANIFEST_UNKNOWN: tag "v2" does not exist in oci:/);
  const notLayout = await runCli(['copy', `oci:${work}:v1`, `${registry.host}/app/single:v1`, '-q']);
  assert.equal(notLayout.code, 2, notLayout.stderr);
  assert.match(notLayout.stderr, /is not an OCI image layout/);
  const ok = await runCli([
    'copy',
    `oci:${dir}:v1`,
    `${registry.host}/app/single`,
    '--insecure-registry',
    registry.host,
    '--json',
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual((JSON.parse(ok.stdout) as { tags: string[] }).tags, ['v1']);
});

test('a corrupted blob in the layout fails the copy on its digest and moves no tag', async () => {
  const image = buildImage({ layers: [30_000] });
  const dir = writeLayout('corrupt', [{ manifest: image, tag: 'v1' }]);
  const layer = image.blobs[1]!;
  const bytes = Buffer.from(layer.data);
  bytes[100] = bytes[100]! ^ 0xff;
  writeFileSync(join(dir, 'blobs', 'sha256', layer.digest.slice(7)), bytes);
  const layout = OciLayout.open(dir);
  await assert.rejects(
    copyImage({
      source: { registry: layout.name, repository: '', tag: 'v1' },
      sourceHost: layout,
      target: { registry: registry.host, repository: 'app/corrupt' },
      targetHost: testHost(registry.host),
    }),
    (e: unknown) => e instanceof DigestMismatch || (e as { cause?: unknown }).cause instanceof DigestMismatch,
  );
  assert.equal((await getManifestRaw(registry.url, 'app/corrupt', 'v1')).status, 404);
});
