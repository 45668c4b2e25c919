/**
 * Reading manifests a registry sent: image manifests (OCI and docker schema2) and indexes (OCI index and docker
 * manifest list). Registry responses are untrusted, so every descriptor is checked (digest syntax, a non-negative
 * integer size) and errors say which field of which manifest was wrong. The raw bytes are kept: manifests are
 * pushed byte-exact, never re-serialised.
 */
import { ProtocolError } from '../errors.ts';
import { checkDigest } from './digest.ts';
import { isIndexType, isManifestType } from './media-types.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export type ParsedManifest =
  | {
      kind: 'index';
      mediaType: string;
      manifests: Descriptor[];
      subject?: Descriptor;
      artifactType?: string;
      annotations?: Record<string, string>;
    }
  | {
      kind: 'image';
      mediaType: string;
      config: Descriptor;
      layers: Descriptor[];
      subject?: Descriptor;
      artifactType?: string;
      annotations?: Record<string, string>;
    };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isRecord(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isRecord(v)) throw new ProtocolError(`${where}: not a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw new ProtocolError(`${where}.mediaType: missing`);
  if (typeof digest !== 'string') throw new ProtocolError(`${where}.digest: missing`);
  const d = checkDigest(digest);
  if (!d.ok) throw new ProtocolError(`${where}.digest: ${d.error}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw new ProtocolError(`${where}.size: not a non-negative integer`);
  const out: Descriptor = { mediaType, digest, size };
  if (typeof v.artifactType === 'string') out.artifactType = v.artifactType;
  const annotations = stringMap(v.annotations);
  if (annotations) out.annotations = annotations;
  if (isRecord(v.platform) && typeof v.platform.os === 'string' && typeof v.platform.architecture === 'string') {
    out.platform = { os: v.platform.os, architecture: v.platform.architecture };
    if (typeof v.platform.variant === 'string') out.platform.variant = v.platform.variant;
  }
  return out;
}

/**
 * Parses manifest bytes. `contentType` is the registry's Content-Type; the document's own `mediaType` field wins
 * when present (some registries send a generic content type).
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, where: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new ProtocolError(`${where}: manifest is not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(doc)) throw new ProtocolError(`${where}: manifest is not a JSON object`);
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const ct = contentType?.split(';')[0]?.trim();
  let mediaType = declared ?? (ct && isManifestType(ct) ? ct : undefined);
  if (!mediaType)
    mediaType = Array.isArray(doc.manifests)
      ? 'application/vnd.oci.image.index.v1+json'
      : 'application/vnd.oci.image.manifest.v1+json';
  if (doc.schemaVersion !== 2)
    throw new ProtocolError(`${where}: schemaVersion ${String(doc.schemaVersion)} is not supported (only 2)`);
  const subject = doc.subject === undefined ? undefined : descriptor(doc.subject, `${where}.subject`);
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;
  const annotations = stringMap(doc.annotations);
  const common = {
    mediaType,
    ...(subject ? { subject } : {}),
    ...(artifactType ? { artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  };
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new ProtocolError(`${where}.manifests: missing in an index`);
    return {
      kind: 'index',
      ...common,
      manifests: doc.manifests.map((m, i) => descriptor(m, `${where}.manifests[${i}]`)),
    };
  }
  const layers = doc.layers === undefined ? [] : doc.layers;
  if (!Array.isArray(layers)) throw new ProtocolError(`${where}.layers: not a list`);
  return {
    kind: 'image',
    ...common,
    config: descriptor(doc.config, `${where}.config`),
    layers: layers.map((l, i) => descriptor(l, `${where}.layers[${i}]`)),
  };
}
