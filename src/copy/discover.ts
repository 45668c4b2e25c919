/**
 * Reads the source graph of a copy and what the target already holds. A manifest present at the target by digest
 * is not fetched and its subtree is not walked (a registry only accepts a manifest whose blobs and children it has);
 * referrers are still looked up for it, so signatures added at the source after an earlier copy still arrive.
 */
import type { ImageSource } from '../oci/image-source.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { parseManifest } from '../oci/manifest.ts';
import type { FetchedManifest, RepositoryClient } from '../oci/registry-client.ts';
import type { ManifestNode } from './graph.ts';

export interface DiscoverOptions {
  source: ImageSource;
  target: RepositoryClient;
  referrers: boolean;
  /** The root manifest, when it was fetched already. */
  prefetched?: FetchedManifest;
  signal?: AbortSignal;
}

const MAX_REFERRER_DEPTH = 4;

export async function discover(
  rootDigest: string,
  rootPresent: boolean | undefined,
  o: DiscoverOptions,
): Promise<ManifestNode> {
  const visiting = new Map<string, Promise<ManifestNode>>();

  const visit = (digest: string, depth: number, knownPresent?: boolean): Promise<ManifestNode> => {
    let p = visiting.get(digest);
    if (!p) {
      p = load(digest, depth, knownPresent);
      visiting.set(digest, p);
    }
    return p;
  };

  const load = async (digest: string, depth: number, knownPresent?: boolean): Promise<ManifestNode> => {
    const [present, referrers] = await Promise.all([
      knownPresent ?? o.target.headManifest(digest, o.signal).then((h) => h !== undefined),
      o.referrers && depth < MAX_REFERRER_DEPTH ? loadReferrers(digest, depth) : Promise.resolve([]),
    ]);
    if (present) return { digest, mediaType: '', size: 0, present, children: [], referrers };
    const m = o.prefetched?.digest === digest ? o.prefetched : await o.source.getManifest(digest, o.signal);
    const parsed = parseManifest(m.bytes, m.mediaType, `manifest ${o.source.name}@${digest}`);
    const children =
      parsed.kind === 'index' ? await Promise.all(parsed.manifests.map((d) => visit(d.digest, depth))) : [];
    return {
      digest,
      mediaType: m.mediaType,
      size: m.bytes.length,
      present,
      bytes: m.bytes,
      parsed,
      children,
      referrers,
    };
  };

  const loadReferrers = async (subject: string, depth: number): Promise<ManifestNode['referrers']> => {
    const found = await o.source.referrers(subject, o.signal);
    if (found.length === 0) return [];
    const atTarget = new Set((await o.target.referrers(subject, o.signal)).map((d: Descriptor) => d.digest));
    return Promise.all(
      found.map(async (descriptor) => ({
        descriptor,
        node: await visit(descriptor.digest, depth + 1),
        listedAtTarget: atTarget.has(descriptor.digest),
      })),
    );
  };

  return visit(rootDigest, 0, rootPresent);
}
