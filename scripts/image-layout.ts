/**
 * hoist's container image as an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`): three gzipped
 * layers (scripts/image-rootfs.ts), the image config (user, entrypoint, environment, port, volume, health check,
 * org.opencontainers.image.* labels) and the manifest. Reproducible: every file's mtime, the config's `created` and
 * the history are one fixed time (SOURCE_DATE_EPOCH, else the last commit's time), tar headers carry no user names,
 * and gzip headers no time, so the same tree gives the same digest. The Dockerfile describes the same image for a
 * docker build; test/deploy/dockerfile.test.ts keeps the two in step.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  APP_DIR,
  appEntries,
  baseEntries,
  DATA_DIR,
  dependencyEntries,
  IMAGE_USER,
  NODE_PATH,
  packedFiles,
  withParents,
} from './image-rootfs.ts';
import { gzipLayer, sha256, tarLayer, type Layer } from './image-tar.ts';

export const IMAGE_REPOSITORY = 'hoist';
export const PORT = 8080;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

interface PackageJson {
  name: string;
  version: string;
  description: string;
  license: string;
}

export function packageJson(root: string): PackageJson {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
}

/** The tag `npm run image` writes (and deploy/ runs): the package's version. */
export function imageTag(root: string): string {
  return packageJson(root).version;
}

/** Seconds since 1970 for every timestamp in the image. */
export function sourceDateEpoch(root: string): number {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim()) || 0;
  } catch {
    return 0;
  }
}

function revision(root: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The health check, without a shell or curl in the image: Node asks /readyz on the port the server listens on. */
export const HEALTHCHECK_SCRIPT =
  "fetch('http://127.0.0.1:'+(process.env.HOIST_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))";

export interface ImageConfigInput {
  created: string;
  version: string;
  description: string;
  license: string;
  revision?: string;
  diffIds: string[];
  history: string[];
}

/** The image config (OCI image spec `config`, with docker's Healthcheck, which docker and podman read from it). */
export function imageConfig(i: ImageConfigInput): Record<string, unknown> {
  const seconds = (s: number): number => s * 1_000_000_000;
  return {
    created: i.created,
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: `${IMAGE_USER.uid}:${IMAGE_USER.gid}`,
      Env: [
        'PATH=/usr/local/bin:/usr/bin:/bin',
        'NODE_ENV=production',
        'HOIST_HOST=0.0.0.0',
        `HOIST_PORT=${PORT}`,
        `HOIST_DATA_DIR=${DATA_DIR}`,
      ],
      Entrypoint: ['/usr/local/bin/hoist'],
      Cmd: ['serve'],
      WorkingDir: DATA_DIR,
      ExposedPorts: { [`${PORT}/tcp`]: {} },
      Volumes: { [DATA_DIR]: {} },
      StopSignal: 'SIGTERM',
      Healthcheck: {
        Test: ['CMD', NODE_PATH, '-e', HEALTHCHECK_SCRIPT],
        Interval: seconds(30),
        Timeout: seconds(5),
        StartPeriod: seconds(60),
        Retries: 3,
      },
      Labels: {
        'org.opencontainers.image.title': 'hoist',
        'org.opencontainers.image.description': i.description,
        'org.opencontainers.image.version': i.version,
        'org.opencontainers.image.licenses': i.license,
        'org.opencontainers.image.created': i.created,
        ...(i.revision !== undefined ? { 'org.opencontainers.image.revision': i.revision } : {}),
      },
    },
    rootfs: { type: 'layers', diff_ids: i.diffIds },
    history: i.history.map((created_by) => ({ created: i.created, created_by })),
  };
}

export interface BuiltImage {
  /** The layout directory. */
  dir: string;
  tag: string;
  /** `hoist:<version>`: what deploy/ runs. */
  reference: string;
  digest: string;
  /** Compressed: what a registry stores and a node pulls (config + manifest + layers). */
  compressedBytes: number;
  /** Uncompressed: the unpacked root filesystem's tars. */
  uncompressedBytes: number;
  layers: Array<{ what: string; digest: string; compressedBytes: number; uncompressedBytes: number }>;
}

/**
 * Writes the image of the tree at `root` as an OCI layout into `dir` (replacing what is there). The CLI bundle and the
 * web console must be built already (`npm run image` builds them first).
 */
export function writeImage(root: string, dir: string): BuiltImage {
  const pkg = packageJson(root);
  const epoch = sourceDateEpoch(root);
  const created = new Date(epoch * 1000).toISOString();
  const parts: Array<{ what: string; layer: Layer; size: number }> = [];
  for (const [what, entries] of [
    ['base: node, its libraries, /etc, the data volume', baseEntries(root)],
    ['production dependencies', dependencyEntries(root)],
    ['hoist (npm pack) and the hoist command', appEntries(root, packedFiles(root))],
  ] as const) {
    const tar = tarLayer(withParents(entries), epoch);
    parts.push({ what, layer: gzipLayer(tar), size: tar.length });
  }
  const rev = revision(root);
  const config = Buffer.from(
    JSON.stringify(
      imageConfig({
        created,
        version: pkg.version,
        description: pkg.description,
        license: pkg.license,
        ...(rev !== undefined ? { revision: rev } : {}),
        diffIds: parts.map((p) => p.layer.diffId),
        history: parts.map((p) => p.what),
      }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
      layers: parts.map((p) => ({ mediaType: OCI_LAYER, digest: p.layer.digest, size: p.layer.blob.length })),
      annotations: { 'org.opencontainers.image.created': created },
    }),
  );
  const tag = pkg.version;
  const digest = sha256(manifest);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = (bytes: Buffer): void => writeFileSync(join(dir, 'blobs', 'sha256', sha256(bytes).slice(7)), bytes);
  for (const p of parts) blob(p.layer.blob);
  blob(config);
  blob(manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest,
          size: manifest.length,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return {
    dir,
    tag,
    reference: `${IMAGE_REPOSITORY}:${tag}`,
    digest,
    compressedBytes: config.length + manifest.length + parts.reduce((n, p) => n + p.layer.blob.length, 0),
    uncompressedBytes: parts.reduce((n, p) => n + p.size, 0),
    layers: parts.map((p) => ({
      what: p.what,
      digest: p.layer.digest,
      compressedBytes: p.layer.blob.length,
      uncompressedBytes: p.size,
    })),
  };
}

export { APP_DIR };
