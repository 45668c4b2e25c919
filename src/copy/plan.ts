/**
 * The copy plan, computed purely from the source graph and what the target has: which blobs to skip, mount or
 * stream (each blob once: small ones first, so a config blob never waits behind the layers for a transfer slot,
 * then the layers largest first), which manifests to push in which order (platform manifests before
 * their index, subjects before their referrers, all by digest; each names the blobs it needs, so that it can go as
 * soon as they are there), which referrer indexes to extend, and the tags to
 * write last, so that a tag never points at an incomplete image.
 */
import type { Descriptor } from '../oci/manifest.ts';
import { blobsOf, walk, type ManifestNode } from './graph.ts';

export type BlobAction = 'skip' | 'mount' | 'stream';

export interface BlobStep {
  descriptor: Descriptor;
  action: BlobAction;
}

export interface ManifestStep {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** The blobs it names (an image's config and layers; none for an index): it may be pushed once they are there. */
  blobs: string[];
  /** The manifest this one refers to, when it is a referrer. */
  subject?: string;
}

export interface ReferrerLink {
  subject: string;
  descriptor: Descriptor;
}

export interface CopyPlan {
  rootDigest: string;
  blobs: BlobStep[];
  /** Waves of manifest pushes; the pushes inside a wave are independent and run in parallel. */
  manifestWaves: ManifestStep[][];
  /** Referrers the target does not list yet (for registries without the referrers API, hoist maintains the index). */
  referrerLinks: ReferrerLink[];
  /** Tags to write on the root, after everything else. */
  tags: string[];
}

export interface PlanInput {
  root: ManifestNode;
  /** Blob digests known to exist at the target (from HEAD requests); ignored when mounting. */
  blobsPresent: ReadonlySet<string>;
  /** Source and target are on one registry: blobs are mounted, not streamed. */
  sameRegistry: boolean;
  tags: readonly string[];
}

/** The blobs the target may lack: those of every manifest that is not present there, each once. */
export function neededBlobs(root: ManifestNode): Descriptor[] {
  const byDigest = new Map<string, Descriptor>();
  for (const node of walk(root)) {
    if (node.present || !node.parsed) continue;
    for (const b of blobsOf(node.parsed)) if (!byDigest.has(b.digest)) byDigest.set(b.digest, b);
  }
  return [...byDigest.values()];
}

/** Blobs under this size (configs, small layers) take a transfer slot only for a moment: they go first. */
export const SMALL_BLOB = 1 << 20;

/** Small blobs first, then the largest first (the longest transfers start early). */
export function transferOrder(a: BlobStep, b: BlobStep): number {
  const small = (s: BlobStep): number => (s.descriptor.size < SMALL_BLOB ? 0 : 1);
  return small(a) - small(b) || b.descriptor.size - a.descriptor.size;
}

/** One blob's action: present at the target → skip; else mount within a registry, stream across registries. */
export function blobAction(present: boolean, sameRegistry: boolean): BlobAction {
  return present ? 'skip' : sameRegistry ? 'mount' : 'stream';
}

export function planCopy(input: PlanInput): CopyPlan {
  const blobs: BlobStep[] = neededBlobs(input.root)
    .map((descriptor): BlobStep => ({
      descriptor,
      action: blobAction(input.blobsPresent.has(descriptor.digest), input.sameRegistry),
    }))
    .sort(transferOrder);

  // A manifest's wave is after its children's and after its subject's.
  const wave = new Map<string, number>();
  const steps = new Map<string, ManifestStep>();
  const referrerLinks: ReferrerLink[] = [];
  const place = (node: ManifestNode, minWave: number, subject?: string): void => {
    let w = minWave;
    for (const c of node.children) {
      place(c, 0);
      if (!c.present) w = Math.max(w, (wave.get(c.digest) ?? 0) + 1);
    }
    if (!node.present && node.bytes) {
      w = Math.max(w, wave.get(node.digest) ?? 0);
      wave.set(node.digest, w);
      const step: ManifestStep = {
        digest: node.digest,
        mediaType: node.mediaType,
        bytes: node.bytes,
        blobs: node.parsed ? blobsOf(node.parsed).map((b) => b.digest) : [],
      };
      if (subject !== undefined) step.subject = subject;
      steps.set(node.digest, step);
    }
    const next = node.present ? 0 : w + 1;
    for (const r of node.referrers) {
      if (
        !r.listedAtTarget &&
        !referrerLinks.some((l) => l.subject === node.digest && l.descriptor.digest === r.descriptor.digest)
      ) {
        referrerLinks.push({ subject: node.digest, descriptor: r.descriptor });
      }
      place(r.node, next, node.digest);
    }
  };
  place(input.root, 0);

  const manifestWaves: ManifestStep[][] = [];
  for (const [digest, w] of wave) {
    const step = steps.get(digest);
    if (!step) continue;
    (manifestWaves[w] ??= []).push(step);
  }
  return {
    rootDigest: input.root.digest,
    blobs,
    manifestWaves: manifestWaves.filter((ws) => ws.length > 0),
    referrerLinks,
    tags: [...new Set(input.tags)],
  };
}

/** Totals for reporting a plan before it runs. */
export function summarisePlan(plan: CopyPlan): {
  stream: number;
  mount: number;
  skip: number;
  streamBytes: number;
  manifests: number;
} {
  const count = (a: BlobAction): number => plan.blobs.filter((b) => b.action === a).length;
  return {
    stream: count('stream'),
    mount: count('mount'),
    skip: count('skip'),
    streamBytes: plan.blobs.filter((b) => b.action === 'stream').reduce((s, b) => s + b.descriptor.size, 0),
    manifests: plan.manifestWaves.reduce((s, w) => s + w.length, 0),
  };
}
