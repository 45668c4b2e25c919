/**
 * Reads the source graph of a copy and what the target already holds. A manifest present at the target by digest
 * is not walked (a registry only accepts a manifest whose blobs and children it has); referrers are still looked up
 * for it, so signatures added at the source after an earlier copy still arrive. Requests go out as early as they can:
 * a manifest's GET at the source goes with its HEAD at the target (a small GET wasted when it is present saves a round
 * trip when it is not), the referrers lookup runs beside both, an image's blobs may be looked up at the target while
 * its HEAD is still out (`onProbe`), and they are announced (`onImage`) as soon as the manifest is known to be
 * absent, so their copy starts while the rest of the graph is still being read. An index's platform manifests are
 * read, and asked about at the target, while the index's own HEAD is still out: when it is absent (the common case,
 * the index is new there) its platforms' blobs start one round trip earlier; when it is present, a few small reads
 * were wasted and nothing is copied.
 */
import type { ImageSource } from '../oci/image-source.ts';
import type { Descriptor, ParsedManifest } from '../oci/manifest.ts';
import { parseManifest } from '../oci/manifest.ts';
import type { FetchedManifest, RepositoryClient } from '../oci/registry-client.ts';
import { blobsOf, type ManifestNode } from './graph.ts';

export interface DiscoverOptions {
  source: ImageSource;
  target: RepositoryClient;
  referrers: boolean;
  /** The root manifest, when it was fetched already. */
  prefetched?: FetchedManifest;
  /** Called with the blobs of every image manifest not present at the target, as soon as it is parsed. */
  onImage?: (blobs: readonly Descriptor[]) => void;
  /**
   * Called with the blobs of an image manifest that arrived while its presence at the target is still being asked:
   * they may be looked up at the target already (nothing is transferred until onImage names them; within one registry
   * they may be mounted).
   */
  onProbe?: (blobs: readonly Descriptor[]) => void;
  signal?: AbortSignal;
}

/** Marks a promise's rejection as handled: it is awaited later, or dropped on purpose when its answer is not needed. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

const MAX_REFERRER_DEPTH = 4;

export async function discover(
  rootDigest: string,
  rootPresent: boolean | undefined,
  o: DiscoverOptions,
): Promise<ManifestNode> {
  const visiting = new Map<string, Promise<ManifestNode>>();
  // Each manifest is read at the source and asked about at the target once, whether ahead of time or not.
  const gets = new Map<string, Promise<{ m: FetchedManifest; parsed: ParsedManifest }>>();
  const heads = new Map<string, Promise<boolean>>();
  const get = (digest: string): Promise<{ m: FetchedManifest; parsed: ParsedManifest }> => {
    let p = gets.get(digest);
    if (!p) {
      p = quiet(
        (o.prefetched?.digest === digest ? Promise.resolve(o.prefetched) : o.source.getManifest(digest, o.signal)).then(
          (m) => ({ m, parsed: parseManifest(m.bytes, m.mediaType, `manifest ${o.source.name}@${digest}`) }),
        ),
      );
      gets.set(digest, p);
    }
    return p;
  };
  const head = (digest: string): Promise<boolean> => {
    let p = heads.get(digest);
    if (!p) {
      p = quiet(o.target.headManifest(digest, o.signal).then((h) => h !== undefined));
      heads.set(digest, p);
    }
    return p;
  };

  const visit = (digest: string, depth: number, knownPresent?: boolean): Promise<ManifestNode> => {
    let p = visiting.get(digest);
    if (!p) {
      p = load(digest, depth, knownPresent);
      visiting.set(digest, p);
    }
    return p;
  };

  const load = async (digest: string, depth: number, knownPresent?: boolean): Promise<ManifestNode> => {
    const referrers = quiet(
      o.referrers && depth < MAX_REFERRER_DEPTH ? loadReferrers(digest, depth) : Promise.resolve([]),
    );
    const fetched = knownPresent === true ? undefined : get(digest);
    if (knownPresent === undefined)
      fetched?.then(
        ({ parsed }) => {
          // The manifest may arrive before the target has said whether it holds it: its blobs can be asked about
          // meanwhile, and an index's platform manifests read and asked about (see above).
          if (parsed.kind === 'image') o.onProbe?.(blobsOf(parsed));
          else
            for (const child of parsed.manifests)
              void Promise.all([get(child.digest), head(child.digest)]).then(
                ([c, childPresent]) => !childPresent && c.parsed.kind === 'image' && o.onProbe?.(blobsOf(c.parsed)),
                () => {},
              );
        },
        () => {},
      );
    const present = knownPresent ?? (await head(digest));
    if (present || fetched === undefined)
      return { digest, mediaType: '', size: 0, present, children: [], referrers: await referrers };
    const { m, parsed } = await fetched;
    if (parsed.kind === 'image') o.onImage?.(blobsOf(parsed));
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
      referrers: await referrers,
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
