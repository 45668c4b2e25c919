/**
 * Reads the signatures and attestations attached to an image, as bytes to be judged later (verify.ts): cosign
 * signature referrers (artifactType `application/vnd.dev.cosign.artifact.sig.v1+json`), DSSE attestation referrers
 * (`application/vnd.dsse.envelope.v1+json`, `application/vnd.in-toto+json`), and the tags older cosign writes beside
 * the image (`sha256-<hex>.sig`, `sha256-<hex>.att`), one signature or envelope per layer, and Sigstore bundles
 * (artifactType `application/vnd.dev.sigstore.bundle.v0.3+json`, the bundle as the one layer; for a bundle holding a
 * message signature, the image manifest's bytes it signs are kept beside it). Nothing is trusted here;
 * a referrer that cannot be read is skipped. The evidence is kept with the artifact, so a change of trust roots is
 * judged again without asking the registry.
 */
import { RegistryError } from '../errors.ts';
import { parseManifest, type Descriptor } from '../oci/manifest.ts';
import type { RepositoryClient } from '../oci/registry-client.ts';
import {
  COSIGN_SIGNATURE_ANNOTATION,
  COSIGN_SIGNATURE_ARTIFACT,
  DSSE_ENVELOPE_TYPE,
  IN_TOTO_TYPE,
  SIMPLE_SIGNING_TYPE,
} from './formats.ts';
import { SIGSTORE_BUNDLE_TYPES } from './sigstore.ts';
import type { Evidence } from './verify.ts';

/** Signed payloads are small; a larger layer is not read. */
export const EVIDENCE_LAYER_LIMIT = 1024 * 1024;
/** At most this many pieces of evidence, and this many bytes of it, are kept per artifact (anyone who can push
 * can attach referrers; the row must stay small). */
export const EVIDENCE_LIMIT = 32;
export const EVIDENCE_BYTES_LIMIT = 2 * 1024 * 1024;

const SIGNED_TYPES = [COSIGN_SIGNATURE_ARTIFACT, DSSE_ENVELOPE_TYPE, IN_TOTO_TYPE, ...SIGSTORE_BUNDLE_TYPES];

export const isSignedType = (artifactType: string | null | undefined): boolean =>
  artifactType !== null && artifactType !== undefined && SIGNED_TYPES.includes(artifactType);

async function readBlob(repo: RepositoryClient, desc: Descriptor, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await repo.openBlob(desc, signal)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function fromManifest(
  repo: RepositoryClient,
  ref: string,
  source: 'referrer' | 'tag',
  signal?: AbortSignal,
): Promise<Evidence[]> {
  const m = await repo.getManifest(ref, signal);
  const parsed = parseManifest(m.bytes, m.mediaType, `signature ${repo.name}@${m.digest}`);
  if (parsed.kind !== 'image') return [];
  const out: Evidence[] = [];
  for (const layer of parsed.layers) {
    if (layer.size > EVIDENCE_LAYER_LIMIT) continue;
    const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (layer.mediaType === SIMPLE_SIGNING_TYPE || signature !== undefined) {
      const payload = (await readBlob(repo, layer, signal)).toString('base64');
      out.push({ kind: 'cosign', manifest: m.digest, source, payload, signature: signature ?? null });
    } else if (layer.mediaType === DSSE_ENVELOPE_TYPE || layer.mediaType === IN_TOTO_TYPE) {
      const envelope = (await readBlob(repo, layer, signal)).toString('base64');
      out.push({ kind: 'dsse', manifest: m.digest, source, envelope });
    } else if (SIGSTORE_BUNDLE_TYPES.includes(layer.mediaType)) {
      const bundle = (await readBlob(repo, layer, signal)).toString('base64');
      out.push({ kind: 'sigstore', manifest: m.digest, source, bundle, signed: null });
    }
  }
  return out;
}

/**
 * Older cosign's `.sig`/`.att` tag beside the image: asked for with HEAD, which a registry answers 404 without an
 * error body to read (most images have no such tag), then read by the digest it names.
 */
async function fromTag(repo: RepositoryClient, tag: string, signal?: AbortSignal): Promise<Evidence[]> {
  try {
    const head = await repo.headManifest(tag, signal);
    return head === undefined ? [] : await fromManifest(repo, head.digest, 'tag', signal);
  } catch (e) {
    if (e instanceof RegistryError && e.status === 404) return [];
    throw e;
  }
}

export async function readEvidence(
  repo: RepositoryClient,
  digest: string,
  referrers: readonly Descriptor[],
  signal?: AbortSignal,
): Promise<Evidence[]> {
  const tagBase = digest.replace(':', '-');
  const reads = [
    ...referrers
      .filter((r) => isSignedType(r.artifactType))
      .map((r) => fromManifest(repo, r.digest, 'referrer', signal).catch((): Evidence[] => [])),
    fromTag(repo, `${tagBase}.sig`, signal).catch((): Evidence[] => []),
    fromTag(repo, `${tagBase}.att`, signal).catch((): Evidence[] => []),
  ];
  const kept: Evidence[] = [];
  let bytes = 0;
  for (const e of (await Promise.all(reads)).flat()) {
    bytes += e.kind === 'cosign' ? e.payload.length : e.kind === 'dsse' ? e.envelope.length : e.bundle.length;
    if (kept.length >= EVIDENCE_LIMIT || bytes > EVIDENCE_BYTES_LIMIT) break;
    kept.push(e);
  }
  return withSignedManifest(repo, digest, kept, signal);
}

const signsMessage = (e: Evidence): boolean => {
  if (e.kind !== 'sigstore') return false;
  try {
    const doc = JSON.parse(Buffer.from(e.bundle, 'base64').toString('utf8')) as unknown;
    return typeof doc === 'object' && doc !== null && Object.hasOwn(doc, 'messageSignature');
  } catch {
    return false;
  }
};

/** A bundle's message signature is over the image manifest's bytes: they are read once, only when one is there. */
async function withSignedManifest(
  repo: RepositoryClient,
  digest: string,
  evidence: Evidence[],
  signal?: AbortSignal,
): Promise<Evidence[]> {
  if (!evidence.some(signsMessage)) return evidence;
  let signed: string | null = null;
  try {
    const m = await repo.getManifest(digest, signal);
    if (m.digest === digest) signed = m.bytes.toString('base64');
  } catch {
    // Left unread: the check then says the signed bytes were not read, and fails closed.
  }
  return evidence.map((e) => (e.kind === 'sigstore' && signsMessage(e) ? { ...e, signed } : e));
}
