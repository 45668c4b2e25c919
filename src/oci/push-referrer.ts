/**
 * Pushing a small artifact as an OCI 1.1 referrer of a manifest: its blobs (the empty config only where the
 * repository lacks it), the manifest by digest, and, on a registry without the referrers API (it did not answer the
 * manifest PUT with `OCI-Subject`), the entry in the `sha256-<hex>` fallback index. The index is read, merged and
 * written back, so two writers at once could lose one entry: the entry is read back and written again until it is
 * there. Everything is pushed by digest, so pushing the same artifact twice leaves one referrer.
 */
import { digestLike } from './digest.ts';
import type { Descriptor } from './manifest.ts';
import type { RepositoryClient } from './registry-client.ts';

export interface ReferrerArtifact {
  manifest: { bytes: Buffer; mediaType: string; artifactType: string; annotations?: Record<string, string> };
  config: { mediaType: string; digest: string; size: number; bytes: Buffer };
  layers: ReadonlyArray<{ digest: string; size: number; bytes: Buffer }>;
}

export interface PushedReferrer {
  digest: string;
  /** The registry indexed it itself (referrers API); otherwise the fallback tag index holds it. */
  subjectIndexed: boolean;
}

const INDEX_ATTEMPTS = 5;

export async function pushReferrer(
  repo: RepositoryClient,
  subject: string,
  a: ReferrerArtifact,
  signal?: AbortSignal,
): Promise<PushedReferrer> {
  const digest = digestLike('sha256:', a.manifest.bytes);
  const configThere = async () => (await repo.headBlob(a.config.digest, signal)) !== undefined;
  await Promise.all([
    configThere().then((there) => (there ? undefined : repo.pushBytes(a.config, a.config.bytes, signal))),
    ...a.layers.map((l) => repo.pushBytes(l, l.bytes, signal)),
  ]);
  const { subjectIndexed } = await repo.putManifest(digest, a.manifest.bytes, a.manifest.mediaType, signal);
  if (subjectIndexed) return { digest, subjectIndexed };
  const entry: Descriptor = {
    mediaType: a.manifest.mediaType,
    digest,
    size: a.manifest.bytes.length,
    artifactType: a.manifest.artifactType,
    ...(a.manifest.annotations ? { annotations: a.manifest.annotations } : {}),
  };
  // Written, then read again until a read finds it listed: another writer may have merged from the index as it was
  // before ours landed.
  for (let attempt = 1; attempt <= INDEX_ATTEMPTS; attempt++)
    if (!(await repo.addToReferrersIndex(subject, [entry], signal))) break;
  return { digest, subjectIndexed };
}
