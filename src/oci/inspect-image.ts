/**
 * What an image is, read from its registry: digest, media type, total size, platforms (for an index), config
 * labels, and the manifests that refer to it. Used by `hoist inspect` and, later, when an artifact is registered.
 */
import { parseManifest, type Descriptor, type Platform } from './manifest.ts';
import type { FetchedManifest, RepositoryClient } from './registry-client.ts';

export interface ImagePlatform {
  platform?: Platform;
  digest: string;
  size: number;
  labels: Record<string, string>;
}

export interface ImageInfo {
  digest: string;
  mediaType: string;
  /** Manifest, config and layers; for an index, of all its platform manifests. */
  size: number;
  platforms: ImagePlatform[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  created?: string;
  referrers: Descriptor[];
}

async function readConfig(
  repo: RepositoryClient,
  desc: Descriptor,
  signal?: AbortSignal,
): Promise<{ labels: Record<string, string>; created?: string; platform?: Platform }> {
  if (desc.size > 4 * 1024 * 1024) return { labels: {} };
  const chunks: Buffer[] = [];
  for await (const c of await repo.openBlob(desc, signal)) chunks.push(c as Buffer);
  try {
    const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      config?: { Labels?: Record<string, unknown> };
      created?: unknown;
      os?: unknown;
      architecture?: unknown;
      variant?: unknown;
    };
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.config?.Labels ?? {})) if (typeof v === 'string') labels[k] = v;
    // A single-platform image says its platform only here (an index says it in its entries).
    const platform: Platform | undefined =
      typeof doc.os === 'string' && typeof doc.architecture === 'string'
        ? {
            os: doc.os,
            architecture: doc.architecture,
            ...(typeof doc.variant === 'string' && doc.variant !== '' ? { variant: doc.variant } : {}),
          }
        : undefined;
    return {
      labels,
      ...(typeof doc.created === 'string' ? { created: doc.created } : {}),
      ...(platform ? { platform } : {}),
    };
  } catch {
    return { labels: {} };
  }
}

export async function inspectImage(
  repo: RepositoryClient,
  ref: string,
  signal?: AbortSignal,
  /** The manifest `ref` names, read from this repository a moment ago (the intake's confirmation): not read again. */
  read?: FetchedManifest,
): Promise<ImageInfo> {
  const m = read ?? (await repo.getManifest(ref, signal));
  const parsed = parseManifest(m.bytes, m.mediaType, `manifest ${repo.name}@${m.digest}`);
  const referrers = repo.referrers(m.digest, signal);
  const annotations = parsed.annotations ?? {};
  if (parsed.kind === 'image') {
    const config = await readConfig(repo, parsed.config, signal);
    const size = m.bytes.length + parsed.config.size + parsed.layers.reduce((s, l) => s + l.size, 0);
    const info: ImageInfo = {
      digest: m.digest,
      mediaType: m.mediaType,
      size,
      platforms: config.platform ? [{ platform: config.platform, digest: m.digest, size, labels: config.labels }] : [],
      labels: config.labels,
      annotations,
      referrers: await referrers,
    };
    if (config.created) info.created = config.created;
    return info;
  }
  const platforms = await Promise.all(
    parsed.manifests.map(async (d): Promise<ImagePlatform> => {
      const child = await inspectImage(repo, d.digest, signal).catch(() => undefined);
      return {
        ...(d.platform ? { platform: d.platform } : {}),
        digest: d.digest,
        size: child?.size ?? d.size,
        labels: child?.labels ?? {},
      };
    }),
  );
  return {
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.bytes.length + platforms.reduce((s, p) => s + p.size, 0),
    platforms,
    labels: platforms[0]?.labels ?? {},
    annotations,
    referrers: await referrers,
  };
}
