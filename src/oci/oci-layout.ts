/**
 * An OCI image layout on disk as a copy source (`hoist copy oci:DIR[:TAG|@DIGEST] DST`, skopeo's `oci:` syntax):
 * `oci-layout`, `index.json` naming the images (a tag is the `org.opencontainers.image.ref.name` annotation) and
 * `blobs/<alg>/<hex>`. `npm run image` writes one and pushes it with this. Everything read is verified as from a
 * registry: manifests against their digest, blobs against digest and size while they stream. A missing manifest or
 * blob is the registry's 404 (MANIFEST_UNKNOWN, BLOB_UNKNOWN), so the copy engine's messages stay the same.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { DigestMismatch, InvalidInput, RegistryError } from '../errors.ts';
import { checkDigest, digestLike, VerifyingStream } from './digest.ts';
import type { ImageSource } from './image-source.ts';
import { parseManifest, type Descriptor } from './manifest.ts';
import { MANIFEST_LIMIT, type FetchedManifest } from './registry-client.ts';
import { OCI_INDEX } from './media-types.ts';

export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface LayoutReference {
  dir: string;
  tag?: string;
  digest?: string;
}

/** `oci:DIR`, `oci:DIR:TAG` or `oci:DIR@DIGEST`; undefined when `input` is not an `oci:` reference. */
export function parseLayoutReference(input: string): LayoutReference | undefined {
  if (!input.startsWith('oci:')) return undefined;
  const rest = input.slice('oci:'.length);
  const at = rest.lastIndexOf('@');
  if (at > 0) {
    const digest = checkDigest(rest.slice(at + 1));
    if (!digest.ok) throw new InvalidInput(digest.error, 'SRC');
    return { dir: rest.slice(0, at), digest: digest.value };
  }
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && !rest.slice(colon + 1).includes('/'))
    return { dir: rest.slice(0, colon), tag: rest.slice(colon + 1) };
  if (rest === '') throw new InvalidInput('an oci: reference names a directory: oci:DIR[:TAG|@DIGEST]', 'SRC');
  return { dir: rest };
}

export class OciLayout implements ImageSource {
  readonly name: string;
  readonly origin: string;
  private readonly index: Descriptor[];

  private constructor(readonly dir: string) {
    this.name = `oci:${dir}`;
    this.origin = this.name;
    const parsed = parseManifest(this.read('index.json', MANIFEST_LIMIT), OCI_INDEX, `${this.name}/index.json`);
    this.index = parsed.kind === 'index' ? parsed.manifests : [];
  }

  /** Opens a layout directory; refuses a directory that is not one. */
  static open(dir: string): OciLayout {
    const full = resolve(dir);
    const marker = join(full, 'oci-layout');
    if (!existsSync(marker)) throw new InvalidInput(`${dir} is not an OCI image layout (no oci-layout file)`, 'SRC');
    const version = (JSON.parse(readFileSync(marker, 'utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    if (version !== '1.0.0')
      throw new InvalidInput(`${dir}: image layout version ${String(version)} is not 1.0.0`, 'SRC');
    return new OciLayout(dir);
  }

  /** The tags index.json names. */
  tags(): string[] {
    return this.index.flatMap((d) => (d.annotations?.[REF_NAME] !== undefined ? [d.annotations[REF_NAME]] : []));
  }

  private read(path: string, limit: number): Buffer {
    const bytes = readFileSync(join(this.dir, path));
    if (bytes.length > limit)
      throw new RegistryError(`read ${this.name}/${path}`, 413, [
        { code: 'SIZE_INVALID', message: `over ${limit} bytes` },
      ]);
    return bytes;
  }

  private blobPath(digest: string): string {
    const checked = checkDigest(digest);
    if (!checked.ok) throw new InvalidInput(checked.error, 'digest');
    const [alg, hex] = digest.split(':') as [string, string];
    return join('blobs', alg, hex);
  }

  async getManifest(ref: string): Promise<FetchedManifest> {
    const byDigest = ref.includes(':');
    const entry = byDigest
      ? this.index.find((d) => d.digest === ref)
      : this.index.find((d) => d.annotations?.[REF_NAME] === ref);
    const digest = byDigest ? ref : entry?.digest;
    const path = digest !== undefined ? this.blobPath(digest) : undefined;
    if (digest === undefined || path === undefined || !existsSync(join(this.dir, path))) {
      throw new RegistryError(`GET manifest ${this.name}${byDigest ? '@' : ':'}${ref}`, 404, [
        { code: 'MANIFEST_UNKNOWN', message: `${byDigest ? ref : `tag "${ref}"`} is not in ${this.name}` },
      ]);
    }
    const bytes = this.read(path, MANIFEST_LIMIT);
    const actual = digestLike(digest, bytes);
    if (actual !== digest) throw new DigestMismatch(`manifest ${this.name}@${digest}`, digest, actual);
    const parsed = parseManifest(bytes, entry?.mediaType, `manifest ${this.name}@${digest}`);
    return { digest, mediaType: parsed.mediaType, bytes };
  }

  /** The layout's manifests whose `subject` is `digest` (a layout lists referrers in index.json, as oras writes). */
  async referrers(digest: string): Promise<Descriptor[]> {
    const found: Descriptor[] = [];
    for (const d of this.index) {
      if (d.digest === digest || !existsSync(join(this.dir, this.blobPath(d.digest)))) continue;
      const m = await this.getManifest(d.digest);
      const parsed = parseManifest(m.bytes, m.mediaType, `manifest ${this.name}@${d.digest}`);
      if (parsed.subject?.digest !== digest) continue;
      const artifactType = parsed.artifactType ?? (parsed.kind === 'image' ? parsed.config.mediaType : undefined);
      found.push({
        mediaType: m.mediaType,
        digest: d.digest,
        size: m.bytes.length,
        ...(artifactType !== undefined ? { artifactType } : {}),
        ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
      });
    }
    return found;
  }

  async openBlob(
    desc: { digest: string; size: number },
    signal?: AbortSignal,
    onBytes?: (n: number) => void,
  ): Promise<Readable> {
    const path = join(this.dir, this.blobPath(desc.digest));
    if (!existsSync(path)) {
      throw new RegistryError(`GET blob ${this.name}@${desc.digest}`, 404, [
        { code: 'BLOB_UNKNOWN', message: `${desc.digest} is not in ${this.name}` },
      ]);
    }
    const verifier = new VerifyingStream(desc, `blob ${this.name}@${desc.digest}`, onBytes);
    const file = createReadStream(path, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) });
    file.on('error', (e) => verifier.destroy(e));
    return file.pipe(verifier);
  }
}
