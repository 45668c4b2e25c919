import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCopy } from '../../src/copy/plan.ts';
import type { ManifestNode } from '../../src/copy/graph.ts';
import type { Descriptor, ParsedManifest } from '../../src/oci/manifest.ts';

const d = (n: number, size: number, mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip'): Descriptor => ({
  mediaType,
  digest: `sha256:${n.toString(16).padStart(64, '0')}`,
  size,
});

function image(n: number, config: Descriptor, layers: Descriptor[], present = false): ManifestNode {
  const parsed: ParsedManifest = {
    kind: 'image',
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config,
    layers,
  };
  return {
    digest: d(n, 0).digest,
    mediaType: parsed.mediaType,
    size: 100,
    present,
    bytes: Buffer.from(`m${n}`),
    parsed,
    children: [],
    referrers: [],
  };
}

function index(n: number, children: ManifestNode[]): ManifestNode {
  const parsed: ParsedManifest = {
    kind: 'index',
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: children.map((c) => d(Number.parseInt(c.digest.slice(7), 16), c.size)),
  };
  return {
    digest: d(n, 0).digest,
    mediaType: parsed.mediaType,
    size: 100,
    present: false,
    bytes: Buffer.from(`i${n}`),
    parsed,
    children,
    referrers: [],
  };
}

test('blobs are planned once each, small ones first, then the largest first; present blobs are skipped', () => {
  const MiB = 1 << 20;
  const shared = d(1, 500 * MiB);
  const a = image(100, d(2, 10), [shared, d(3, 900 * MiB)]);
  const b = image(101, d(4, 10), [shared, d(5, 50 * MiB)]);
  const plan = planCopy({
    root: index(200, [a, b]),
    blobsPresent: new Set([d(5, 50 * MiB).digest]),
    sameRegistry: false,
    tags: ['v1'],
  });
  assert.deepEqual(
    plan.blobs.map((s) => [s.descriptor.size, s.action]),
    [
      [10, 'stream'],
      [10, 'stream'],
      [900 * MiB, 'stream'],
      [500 * MiB, 'stream'],
      [50 * MiB, 'skip'],
    ],
  );
  assert.equal(plan.blobs.filter((s) => s.descriptor.digest === shared.digest).length, 1);
  // Platform manifests in one parallel wave, the index after them; the tag is separate and last.
  assert.deepEqual(
    plan.manifestWaves.map((w) => w.map((m) => m.bytes.toString())),
    [['m100', 'm101'], ['i200']],
  );
  // Each manifest names the blobs it needs (it may be pushed once they are there); an index names none.
  assert.deepEqual(
    plan.manifestWaves.map((w) => w.map((m) => m.blobs)),
    [
      [
        [d(2, 10).digest, shared.digest, d(3, 900 * MiB).digest],
        [d(4, 10).digest, shared.digest, d(5, 50 * MiB).digest],
      ],
      [[]],
    ],
  );
  assert.deepEqual(plan.tags, ['v1']);
});

test('same-registry copies mount instead of streaming', () => {
  const plan = planCopy({
    root: image(100, d(2, 10), [d(3, 20)]),
    blobsPresent: new Set(),
    sameRegistry: true,
    tags: [],
  });
  assert.deepEqual(
    plan.blobs.map((s) => s.action),
    ['mount', 'mount'],
  );
});

test('a present root plans no blobs and no manifests, only its tags', () => {
  const plan = planCopy({
    root: image(100, d(2, 10), [d(3, 20)], true),
    blobsPresent: new Set(),
    sameRegistry: false,
    tags: ['prod'],
  });
  assert.deepEqual(plan.blobs, []);
  assert.deepEqual(plan.manifestWaves, []);
  assert.deepEqual(plan.tags, ['prod']);
});

test('referrers are pushed after their subject and linked when the target does not list them', () => {
  const root = image(100, d(2, 10), [d(3, 20)]);
  const sig = image(300, d(6, 2), [d(7, 30)]);
  const sbom = image(301, d(6, 2), [d(8, 40)]);
  root.referrers = [
    { descriptor: { ...d(300, 100), artifactType: 'sig' }, node: sig, listedAtTarget: false },
    { descriptor: { ...d(301, 100), artifactType: 'sbom' }, node: sbom, listedAtTarget: true },
  ];
  sbom.present = true;
  const plan = planCopy({ root, blobsPresent: new Set(), sameRegistry: false, tags: ['v1'] });
  assert.deepEqual(
    plan.manifestWaves.map((w) => w.map((m) => m.bytes.toString())),
    [['m100'], ['m300']],
  );
  assert.deepEqual(
    plan.referrerLinks.map((l) => [l.subject, l.descriptor.artifactType]),
    [[root.digest, 'sig']],
  );
  // The SBOM is present: its blob is not planned; the signature's and the image's are.
  assert.deepEqual(
    plan.blobs.map((s) => s.descriptor.size).sort((x, y) => x - y),
    [2, 10, 20, 30],
  );
});
