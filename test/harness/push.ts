// Pushes test images into a registry with plain fetch(), independently of hoist's own client: blobs by POST + PUT
// (skipping those a HEAD finds), children before their index, manifests byte-exact with their media type. Also keeps
// the OCI referrers tag schema (`sha256-<hex>` index) up to date for artifacts, since distribution 2.8 has no
// referrers API, and reads manifests back raw.
import { MANIFEST_ACCEPT, MediaTypes, formatTypes, type ImageFormat } from './media-types.ts';
import { imageOver, manifestOf, sha256, type TestBlob, type TestManifest } from './images.ts';
import { RegistrySession, expectStatus, type Creds } from './registry-session.ts';

export { pushLargeBlob } from './large-blob.ts';

export interface PushOptions {
  tag?: string;
  creds?: Creds;
}

export async function pushImage(
  registryUrl: string,
  repo: string,
  m: TestManifest,
  opts: PushOptions = {},
): Promise<void> {
  const session = new RegistrySession(registryUrl, repo, opts.creds);
  await pushTree(session, m, opts.tag ?? m.digest);
}

export async function pushReferrer(
  registryUrl: string,
  repo: string,
  artifact: TestManifest,
  opts: PushOptions = {},
): Promise<void> {
  const session = new RegistrySession(registryUrl, repo, opts.creds);
  await pushTree(session, artifact, artifact.digest);
  const parsed = JSON.parse(artifact.bytes.toString('utf8')) as {
    artifactType?: string;
    config?: { mediaType?: string };
    subject?: { digest?: string };
    annotations?: Record<string, string>;
  };
  const subject = parsed.subject?.digest;
  if (subject === undefined) throw new Error(`push: artifact ${artifact.digest} has no subject`);
  const tag = subject.replace(':', '-');
  const current = await getManifest(session, tag);
  let index: { schemaVersion: number; mediaType: string; manifests: Record<string, unknown>[] };
  if (current.status === 404) {
    index = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
  } else if (current.status === 200 && current.bytes !== undefined) {
    index = JSON.parse(current.bytes.toString('utf8')) as typeof index;
  } else {
    throw new Error(`push: GET referrers tag ${repo}:${tag}: HTTP ${current.status}`);
  }
  if (!index.manifests.some((d) => d['digest'] === artifact.digest)) {
    index.manifests.push({
      mediaType: artifact.mediaType,
      digest: artifact.digest,
      size: artifact.size,
      artifactType: parsed.artifactType ?? parsed.config?.mediaType,
      ...(parsed.annotations !== undefined ? { annotations: parsed.annotations } : {}),
    });
  }
  await putManifest(session, manifestOf(index, MediaTypes.ociIndex), tag);
}

/** An image manifest over already-pushed layers; only its (new, small) config blob carries data. */
export function buildImageWithBlobs(layers: TestBlob[], opts: { format?: ImageFormat } = {}): TestManifest {
  const layerType = formatTypes(opts.format ?? 'oci').layer;
  return imageOver(
    layers.map((l) => ({ ...l, mediaType: layerType })),
    { format: opts.format },
  );
}

export async function getManifestRaw(
  registryUrl: string,
  repo: string,
  ref: string,
  opts: PushOptions = {},
): Promise<{ status: number; mediaType?: string; bytes?: Buffer; digest?: string }> {
  return getManifest(new RegistrySession(registryUrl, repo, opts.creds), ref);
}

/** `digest` is computed from the bytes received, not taken from the registry's header. */
async function getManifest(
  session: RegistrySession,
  ref: string,
): Promise<{ status: number; mediaType?: string; bytes?: Buffer; digest?: string }> {
  const res = await session.fetch(session.repoUrl(`manifests/${ref}`), { headers: { Accept: MANIFEST_ACCEPT } });
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status };
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  const mediaType = res.headers.get('content-type') ?? undefined;
  return { status: res.status, ...(mediaType !== undefined ? { mediaType } : {}), bytes, digest: sha256(bytes) };
}

async function pushTree(session: RegistrySession, m: TestManifest, ref: string): Promise<void> {
  for (const child of m.children) await pushTree(session, child, child.digest);
  for (const blob of m.blobs) await pushBlob(session, blob);
  await putManifest(session, m, ref);
}

async function pushBlob(session: RegistrySession, blob: TestBlob): Promise<void> {
  const head = await session.fetch(session.repoUrl(`blobs/${blob.digest}`), { method: 'HEAD' });
  await head.body?.cancel();
  if (head.status === 200) return;
  if (blob.data.length !== blob.size) {
    throw new Error(
      `push: blob ${blob.digest} (${blob.size} bytes) is not in ${session.repo} and its data was not kept`,
    );
  }
  const start = await session.fetch(session.repoUrl('blobs/uploads/'), { method: 'POST' });
  await expectStatus(start, [202], `push: POST upload for ${blob.digest}`);
  await start.body?.cancel();
  const location = session.resolve(start.headers.get('location'), 'POST upload');
  const put = await session.fetch(withDigest(location, blob.digest), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
    body: blob.data,
  });
  await expectStatus(put, [201], `push: PUT blob ${blob.digest}`);
  await put.body?.cancel();
}

async function putManifest(session: RegistrySession, m: TestManifest, ref: string): Promise<void> {
  const res = await session.fetch(session.repoUrl(`manifests/${ref}`), {
    method: 'PUT',
    headers: { 'Content-Type': m.mediaType },
    body: m.bytes,
  });
  await expectStatus(res, [201], `push: PUT manifest ${session.repo}:${ref}`);
  await res.body?.cancel();
  const digest = res.headers.get('docker-content-digest');
  if (digest !== null && digest !== m.digest) {
    throw new Error(`push: registry stored ${session.repo}:${ref} as ${digest}, expected ${m.digest}`);
  }
}

/** Appends `digest=` to an upload URL without re-encoding the registry's own query (its `_state`). */
export function withDigest(url: string, digest: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}
