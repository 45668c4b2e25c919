// Builds test images in memory: single-platform images (OCI or Docker schema 2), indexes and manifest lists over
// them, and OCI artifacts that point at a subject (signatures, SBOMs). The structure is deterministic; layer bytes are
// random, so every call gives new digests. Manifests are serialised once, indented, and their exact bytes kept: a
// client that re-serialises them changes the digest, which is the bug such tests should catch.
import { createHash, randomBytes } from 'node:crypto';
import { MediaTypes, formatTypes, type ImageFormat } from './media-types.ts';

export { MediaTypes, MANIFEST_ACCEPT, type ImageFormat } from './media-types.ts';

export interface TestBlob {
  digest: string;
  size: number;
  mediaType: string;
  data: Buffer;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface TestManifest {
  mediaType: string;
  bytes: Buffer;
  digest: string;
  size: number;
  blobs: TestBlob[]; // config + layers (for an index: empty)
  children: TestManifest[]; // for an index/list: the platform manifests
  platform?: Platform;
}

export const SIGNATURE_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SBOM_ARTIFACT = 'application/spdx+json';

/** Platforms handed out in order by buildMultiPlatform. */
export const PLATFORMS: readonly Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 's390x' },
  { os: 'linux', architecture: 'ppc64le' },
  { os: 'linux', architecture: '386' },
  { os: 'linux', architecture: 'riscv64' },
  { os: 'linux', architecture: 'arm', variant: 'v6' },
  { os: 'linux', architecture: 'mips64le' },
  { os: 'windows', architecture: 'amd64' },
];

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function blobOf(data: Buffer, mediaType: string): TestBlob {
  return { digest: sha256(data), size: data.length, mediaType, data };
}

export function descriptorOf(x: { mediaType: string; digest: string; size: number }): {
  mediaType: string;
  digest: string;
  size: number;
} {
  return { mediaType: x.mediaType, digest: x.digest, size: x.size };
}

/** Serialises a manifest once and keeps its exact bytes. */
export function manifestOf(
  content: object,
  mediaType: string,
  parts: { blobs?: TestBlob[]; children?: TestManifest[]; platform?: Platform } = {},
): TestManifest {
  const bytes = Buffer.from(JSON.stringify(content, null, 3));
  const m: TestManifest = {
    mediaType,
    bytes,
    digest: sha256(bytes),
    size: bytes.length,
    blobs: parts.blobs ?? [],
    children: parts.children ?? [],
  };
  if (parts.platform !== undefined) m.platform = parts.platform;
  return m;
}

export function buildImage(opts: {
  layers: number[];
  format?: ImageFormat;
  platform?: Platform;
  labels?: Record<string, string>;
  shareLayersWith?: TestManifest;
}): TestManifest {
  const format = opts.format ?? 'oci';
  const types = formatTypes(format);
  const shared = layersOf(opts.shareLayersWith);
  const layers = opts.layers.map((size, i) => {
    const reused = shared[i];
    return reused ?? blobOf(randomBytes(size), types.layer);
  });
  return imageOver(layers, { format, platform: opts.platform, labels: opts.labels });
}

/** An image manifest (with a fresh config) over layer blobs that already exist or were built elsewhere. */
export function imageOver(
  layers: TestBlob[],
  opts: { format?: ImageFormat; platform?: Platform | undefined; labels?: Record<string, string> | undefined },
): TestManifest {
  const types = formatTypes(opts.format ?? 'oci');
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    created: '2024-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/bin:/bin'], Labels: opts.labels ?? {} },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `hoist test layer ${i}` })),
    // Makes two images with equal layers and labels still differ.
    'hoist.nonce': randomBytes(8).toString('hex'),
  };
  const configBlob = blobOf(Buffer.from(JSON.stringify(config)), types.config);
  const content = {
    schemaVersion: 2,
    mediaType: types.manifest,
    config: descriptorOf(configBlob),
    layers: layers.map(descriptorOf),
  };
  return manifestOf(content, types.manifest, { blobs: [configBlob, ...layers], platform });
}

export function buildIndex(children: TestManifest[], opts: { format?: ImageFormat } = {}): TestManifest {
  const types = formatTypes(opts.format ?? 'oci');
  const content = {
    schemaVersion: 2,
    mediaType: types.index,
    manifests: children.map((c) => ({
      ...descriptorOf(c),
      ...(c.platform !== undefined ? { platform: platformJson(c.platform) } : {}),
    })),
  };
  return manifestOf(content, types.index, { children });
}

export function buildMultiPlatform(n: number, layerSizes: number[], opts: { format?: ImageFormat } = {}): TestManifest {
  if (n < 1 || n > PLATFORMS.length) throw new Error(`images: between 1 and ${PLATFORMS.length} platforms, not ${n}`);
  const children = PLATFORMS.slice(0, n).map((platform) =>
    buildImage({ layers: layerSizes, format: opts.format, platform }),
  );
  return buildIndex(children, opts);
}

export function buildArtifact(
  subject: TestManifest,
  opts: { artifactType: string; content?: Buffer; annotations?: Record<string, string> },
): TestManifest {
  const empty = blobOf(Buffer.from('{}'), MediaTypes.ociEmpty);
  const data = opts.content ?? Buffer.from(JSON.stringify({ hoistTestArtifact: randomBytes(8).toString('hex') }));
  const layer = blobOf(data, opts.artifactType);
  const content = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: opts.artifactType,
    config: descriptorOf(empty),
    layers: [descriptorOf(layer)],
    subject: descriptorOf(subject),
    ...(opts.annotations !== undefined ? { annotations: opts.annotations } : {}),
  };
  return manifestOf(content, MediaTypes.ociManifest, { blobs: [empty, layer] });
}

/** The layers of an image (an index lends its first child's). */
function layersOf(m: TestManifest | undefined): TestBlob[] {
  if (m === undefined) return [];
  if (m.blobs.length === 0) return layersOf(m.children[0]);
  return m.blobs.slice(1);
}

/** Platform JSON with a stable key order: architecture, os, variant. */
function platformJson(p: Platform): Platform {
  return { architecture: p.architecture, os: p.os, ...(p.variant !== undefined ? { variant: p.variant } : {}) };
}
