/**
 * Pushing a small artifact as an OCI 1.1 referrer of a manifest, in as few round trips as the distribution spec
 * allows. Requests, on a registry without the referrers API (distribution 2.8), once the repository is known:
 *   round 1, at once: each layer (POST + PUT: 2 each; 2.8 has no single-POST upload) and the read of the
 *            `sha256-<hex>` fallback index (GET: 1);
 *   round 2: the manifest by digest (PUT: 1);
 *   round 3: the fallback index with the entry merged in (PUT: 1), only when it was not listed already.
 * That is 7 requests in 3 sequential rounds for two layers (4 + 1 + 1 + 1). The first push into a repository adds a HEAD
 * of the empty config (and its upload, 2, when it is missing) to round 1; afterwards it is remembered per
 * repository. On a registry with the referrers API (it answers the manifest PUT with `OCI-Subject`) there is no index:
 * 5 requests in 2 rounds. Whether the registry has the API is learnt from the first PUT and remembered per registry,
 * so the index is read speculatively only where it is known to be needed.
 *
 * The index is read, merged and written back (the spec offers no conditional write that distribution 2.8 honours),
 * so two writers of the same subject's index at the same moment could lose one entry. Within one process the writes
 * of an index are serialized (ReferrerPushState); across replicas the window is the time between one GET and its PUT.
 * Everything is pushed by digest, so pushing the same artifact twice leaves one referrer.
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

/** What one process learnt while pushing referrers: configs present per repository, and one index write at a time. */
export class ReferrerPushState {
  private readonly configs = new Set<string>();
  private readonly indexLocks = new Map<string, Promise<unknown>>();

  hasConfig(repo: RepositoryClient, digest: string): boolean {
    return this.configs.has(`${repo.host.transport.host}/${repo.name}@${digest}`);
  }

  sawConfig(repo: RepositoryClient, digest: string): void {
    this.configs.add(`${repo.host.transport.host}/${repo.name}@${digest}`);
  }

  /** Runs `f` after every earlier update of the same index in this process has finished. */
  async serially<T>(key: string, f: () => Promise<T>): Promise<T> {
    const before = this.indexLocks.get(key) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(f);
    this.indexLocks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.indexLocks.get(key) === run) this.indexLocks.delete(key);
    }
  }
}

export async function pushReferrer(
  repo: RepositoryClient,
  subject: string,
  a: ReferrerArtifact,
  o: { signal?: AbortSignal; state?: ReferrerPushState } = {},
): Promise<PushedReferrer> {
  const { signal } = o;
  const state = o.state ?? new ReferrerPushState();
  const digest = digestLike('sha256:', a.manifest.bytes);
  const entry: Descriptor = {
    mediaType: a.manifest.mediaType,
    digest,
    size: a.manifest.bytes.length,
    artifactType: a.manifest.artifactType,
    ...(a.manifest.annotations ? { annotations: a.manifest.annotations } : {}),
  };
  const indexKey = `${repo.host.transport.host}/${repo.name}@${subject}`;
  const config = async () => {
    if (state.hasConfig(repo, a.config.digest)) return;
    if ((await repo.headBlob(a.config.digest, signal)) === undefined)
      await repo.pushBytes(a.config, a.config.bytes, signal);
    state.sawConfig(repo, a.config.digest);
  };
  const blobs = Promise.all([config(), ...a.layers.map((l) => repo.pushBytes(l, l.bytes, signal))]);
  if (repo.host.referrersApi === false) {
    // Known to need the fallback index: read it while the blobs upload, write it right after the manifest.
    return state.serially(indexKey, async () => {
      const [current] = await Promise.all([repo.readReferrersIndex(subject, signal), blobs]);
      await repo.putManifest(digest, a.manifest.bytes, a.manifest.mediaType, signal);
      await repo.addToReferrersIndex(subject, [entry], signal, current);
      return { digest, subjectIndexed: false };
    });
  }
  await blobs;
  const { subjectIndexed } = await repo.putManifest(digest, a.manifest.bytes, a.manifest.mediaType, signal);
  // The spec: a registry that does not answer with OCI-Subject did not index the subject; the client keeps the index.
  repo.host.referrersApi = subjectIndexed;
  if (subjectIndexed) return { digest, subjectIndexed };
  await state.serially(indexKey, () => repo.addToReferrersIndex(subject, [entry], signal));
  return { digest, subjectIndexed };
}
