/**
 * The source side of a copy as a graph: the root manifest, the platform manifests under an index, and the manifests
 * that refer to any of them (signatures, SBOMs, attestations), each marked with what the target already has.
 */
import type { Descriptor, ParsedManifest } from '../oci/manifest.ts';

export interface ManifestNode {
  digest: string;
  mediaType: string;
  size: number;
  /** Present at the target already (by digest): nothing under it needs copying. */
  present: boolean;
  /** Raw bytes and their parse; absent for nodes present at the target (never fetched). */
  bytes?: Buffer;
  parsed?: ParsedManifest;
  /** Platform manifests of an index. */
  children: ManifestNode[];
  /** Manifests whose `subject` is this one, and whether the target lists each as a referrer already. */
  referrers: Array<{ descriptor: Descriptor; node: ManifestNode; listedAtTarget: boolean }>;
}

/** Every node of the graph once, parents before children, subjects before their referrers. */
export function walk(root: ManifestNode): ManifestNode[] {
  const seen = new Set<string>();
  const out: ManifestNode[] = [];
  const visit = (n: ManifestNode): void => {
    if (seen.has(n.digest)) return;
    seen.add(n.digest);
    out.push(n);
    n.children.forEach(visit);
    n.referrers.forEach((r) => visit(r.node));
  };
  visit(root);
  return out;
}

/** The blobs an image manifest needs (config and layers); an index needs none of its own. */
export function blobsOf(parsed: ParsedManifest): Descriptor[] {
  return parsed.kind === 'image' ? [parsed.config, ...parsed.layers] : [];
}
