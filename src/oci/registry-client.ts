/**
 * A client for one repository on one registry, speaking the OCI distribution API: manifests (GET/HEAD/PUT
 * byte-exact), blobs (HEAD, streaming GET), uploads (POST + single PUT, chunked PATCH fallback, always following the
 * latest Location), cross-repository mounts, referrers (the API, or the `sha256-<hex>` tag fallback, which it also
 * maintains when pushing a referrer to a registry without the API) and the tag list. What it receives is verified:
 * manifests against their digest, blobs against digest and size while they stream.
 */
import { Readable } from 'node:stream';
import { DigestMismatch, ProtocolError, RegistryError } from '../errors.ts';
import { digestLike, VerifyingStream } from './digest.ts';
import type { ImageSource } from './image-source.ts';
import { parseManifest, type Descriptor } from './manifest.ts';
import { MANIFEST_ACCEPT, OCI_INDEX } from './media-types.ts';
import { header, readLimited, type Response, type Transport } from './transport.ts';

export const MANIFEST_LIMIT = 4 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export type UploadMode = 'single' | 'chunked';

/** Per-host facts learnt while talking to it, shared by every repository client on that host. */
export class RegistryHost {
  /** undefined until a referrers request has shown whether the registry has the referrers API. */
  referrersApi: boolean | undefined;
  referrersProbe: Promise<unknown> | undefined;
  uploadMode: UploadMode = 'single';
  chunkSize = DEFAULT_CHUNK_SIZE;
  constructor(readonly transport: Transport) {}
}

function isDigest(ref: string): boolean {
  return ref.includes(':');
}

/** The referrers fallback tag for a digest: `sha256-<hex>`, cut to the 128-character tag limit. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-').slice(0, 128);
}

export class RepositoryClient implements ImageSource {
  readonly scopes: readonly string[];

  /**
   * @param push whether this client writes (its token then asks for push first, as registries expect)
   * @param mountFrom repositories on the same host to mount blobs from (their pull scope joins the token)
   */
  constructor(
    readonly host: RegistryHost,
    readonly name: string,
    opts: { push?: boolean; mountFrom?: readonly string[] } = {},
  ) {
    const own = `repository:${name}:${opts.push ? 'pull,push' : 'pull'}`;
    this.scopes = [own, ...(opts.mountFrom ?? []).filter((r) => r !== name).map((r) => `repository:${r}:pull`)];
  }

  get origin(): string {
    return this.host.transport.host;
  }

  private get t(): Transport {
    return this.host.transport;
  }

  private async expect(res: Response, ok: readonly number[], operation: string): Promise<Response> {
    if (ok.includes(res.statusCode)) return res;
    return this.t.fail(res, operation);
  }

  async headManifest(ref: string, signal?: AbortSignal): Promise<ManifestHead | undefined> {
    const operation = `HEAD manifest ${this.name}${isDigest(ref) ? '@' : ':'}${ref}`;
    const res = await this.t.send({
      method: 'HEAD',
      url: `/v2/${this.name}/manifests/${ref}`,
      scopes: this.scopes,
      headers: { accept: MANIFEST_ACCEPT },
      operation,
      signal,
    });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    await this.expect(res, [200], operation);
    const digest = header(res, 'docker-content-digest');
    const mediaType = header(res, 'content-type')?.split(';')[0]?.trim();
    const size = Number(header(res, 'content-length'));
    if (!digest || !mediaType || !Number.isFinite(size)) {
      // Some registries omit the digest on HEAD: fall back to fetching the manifest.
      const m = await this.getManifest(ref, signal);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    }
    if (isDigest(ref) && digest !== ref)
      throw new DigestMismatch(`manifest ${this.name}@${ref} (Docker-Content-Digest)`, ref, digest);
    return { digest, mediaType, size };
  }

  /** GETs a manifest (4 MiB limit) and checks its bytes against the digest asked for or announced. */
  async getManifest(ref: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const operation = `GET manifest ${this.name}${isDigest(ref) ? '@' : ':'}${ref}`;
    const res = await this.expect(
      await this.t.send({
        method: 'GET',
        url: `/v2/${this.name}/manifests/${ref}`,
        scopes: this.scopes,
        headers: { accept: MANIFEST_ACCEPT },
        operation,
        signal,
      }),
      [200],
      operation,
    );
    const bytes = await readLimited(res, MANIFEST_LIMIT, operation);
    const announced = header(res, 'docker-content-digest');
    const expected = isDigest(ref) ? ref : announced;
    const digest = digestLike(expected ?? 'sha256:', bytes);
    if (expected !== undefined && digest !== expected)
      throw new DigestMismatch(`manifest ${this.name}@${expected}`, expected, digest);
    const parsed = parseManifest(bytes, header(res, 'content-type'), `manifest ${this.name}@${digest}`);
    return { digest, mediaType: parsed.mediaType, bytes };
  }

  /** PUTs manifest bytes unchanged under a tag or digest; returns whether the registry indexed its subject itself. */
  async putManifest(
    ref: string,
    bytes: Buffer,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; subjectIndexed: boolean }> {
    const operation = `PUT manifest ${this.name}${isDigest(ref) ? '@' : ':'}${ref}`;
    const digest = digestLike(isDigest(ref) ? ref : 'sha256:', bytes);
    if (isDigest(ref) && digest !== ref) throw new DigestMismatch(operation, ref, digest);
    const res = await this.expect(
      await this.t.send({
        method: 'PUT',
        url: `/v2/${this.name}/manifests/${ref}`,
        scopes: this.scopes,
        headers: { 'content-type': mediaType },
        body: bytes,
        operation,
        signal,
      }),
      [200, 201],
      operation,
    );
    await res.body.dump();
    const announced = header(res, 'docker-content-digest');
    if (announced !== undefined && announced !== digest)
      throw new DigestMismatch(`${operation} (registry stored)`, digest, announced);
    return { digest, subjectIndexed: header(res, 'oci-subject') !== undefined };
  }

  /** The blob's size at this repository, or undefined when it is not there. */
  async headBlob(digest: string, signal?: AbortSignal): Promise<number | undefined> {
    const operation = `HEAD blob ${this.name}@${digest}`;
    const res = await this.t.send({
      method: 'HEAD',
      url: `/v2/${this.name}/blobs/${digest}`,
      scopes: this.scopes,
      operation,
      signal,
    });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    await this.expect(res, [200], operation);
    return Number(header(res, 'content-length'));
  }

  /**
   * Opens a blob for reading, following a redirect to storage without sending the registry's credentials there.
   * The stream is verified: it errors with DigestMismatch when digest or size is wrong, and never passes on the
   * full content of a wrong blob.
   */
  async openBlob(
    desc: { digest: string; size: number },
    signal?: AbortSignal,
    onBytes?: (n: number) => void,
  ): Promise<Readable> {
    const operation = `GET blob ${this.name}@${desc.digest}`;
    let res = await this.t.send({
      method: 'GET',
      url: `/v2/${this.name}/blobs/${desc.digest}`,
      scopes: this.scopes,
      operation,
      signal,
    });
    for (let hops = 0; [301, 302, 303, 307, 308].includes(res.statusCode); hops++) {
      const location = header(res, 'location');
      await res.body.dump();
      if (!location || hops >= 5) throw new ProtocolError(`${operation}: redirect without a usable Location`);
      const target = new URL(location, this.t.resolve(`/v2/${this.name}/blobs/${desc.digest}`));
      const sameOrigin = target.origin === this.t.origin;
      res = await this.t.send({
        method: 'GET',
        url: target.toString(),
        scopes: this.scopes,
        operation,
        signal,
        anonymous: !sameOrigin,
      });
    }
    await this.expect(res, [200], operation);
    const verifier = new VerifyingStream(desc, `blob ${this.name}@${desc.digest}`, onBytes);
    res.body.on('error', (e) => verifier.destroy(e));
    return res.body.pipe(verifier);
  }

  /** Starts an upload session; returns its Location. */
  async startUpload(signal?: AbortSignal): Promise<string> {
    const operation = `start upload to ${this.name}`;
    const res = await this.expect(
      await this.t.send({
        method: 'POST',
        url: `/v2/${this.name}/blobs/uploads/`,
        scopes: this.scopes,
        headers: { 'content-length': '0' },
        operation,
        signal,
      }),
      [202],
      operation,
    );
    await res.body.dump();
    return this.location(res, operation);
  }

  /** Asks the registry to mount a blob from another repository on the same host: mounted, or a session to upload into. */
  async mountBlob(
    digest: string,
    from: string,
    signal?: AbortSignal,
  ): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const operation = `mount blob ${digest} from ${from} into ${this.name}`;
    const url = `/v2/${this.name}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const res = await this.expect(
      await this.t.send({
        method: 'POST',
        url,
        scopes: this.scopes,
        headers: { 'content-length': '0' },
        operation,
        signal,
      }),
      [201, 202],
      operation,
    );
    await res.body.dump();
    if (res.statusCode === 201) return { mounted: true };
    return { mounted: false, location: this.location(res, operation) };
  }

  /**
   * Uploads a blob from a stream into a session (POST + one PUT, or PATCH chunks then PUT when the host needs
   * chunks). Returns normally only when the registry confirmed the blob under its digest.
   */
  async uploadBlob(
    location: string,
    desc: { digest: string; size: number },
    body: Readable,
    signal?: AbortSignal,
  ): Promise<void> {
    const operation = `upload blob ${desc.digest} to ${this.name}`;
    if (this.host.uploadMode === 'chunked') {
      location = await this.patchChunks(location, body, operation, signal);
      body = Readable.from([]);
    }
    const url = withDigest(this.t.resolve(location), desc.digest);
    const chunked = this.host.uploadMode === 'chunked';
    const res = await this.t.send({
      method: 'PUT',
      url,
      scopes: this.scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(chunked ? 0 : desc.size) },
      body: chunked ? Buffer.alloc(0) : body,
      operation,
      signal,
      retry: false,
    });
    if (res.statusCode === 413 && !chunked) {
      await res.body.dump();
      body.destroy();
      this.host.uploadMode = 'chunked';
      throw new RegistryError(operation, 413, [
        { code: 'SIZE_INVALID', message: 'single-request upload too large; switched to chunked uploads, retry' },
      ]);
    }
    await this.expect(res, [201, 204], operation);
    await res.body.dump();
    const stored = header(res, 'docker-content-digest');
    if (stored !== undefined && stored !== desc.digest)
      throw new DigestMismatch(`${operation} (registry stored)`, desc.digest, stored);
  }

  /** Sends the stream as PATCH chunks of the host's chunk size; returns the Location for the closing PUT. */
  private async patchChunks(
    location: string,
    body: Readable,
    operation: string,
    signal?: AbortSignal,
  ): Promise<string> {
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const chunk = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      const res = await this.expect(
        await this.t.send({
          method: 'PATCH',
          url: this.t.resolve(location),
          scopes: this.scopes,
          headers: {
            'content-type': 'application/octet-stream',
            'content-range': `${offset}-${offset + chunk.length - 1}`,
            'content-length': String(chunk.length),
          },
          body: chunk,
          operation,
          signal,
          retry: false,
        }),
        [202, 204],
        operation,
      );
      await res.body.dump();
      offset += chunk.length;
      location = this.location(res, operation);
    };
    // Every chunk but the last is exactly chunkSize: registries may set a minimum (OCI-Chunk-Min-Length) or maximum.
    const size = this.host.chunkSize;
    for await (const data of body) {
      let rest = data as Buffer;
      while (pendingBytes + rest.length >= size) {
        const take = size - pendingBytes;
        pending.push(rest.subarray(0, take));
        pendingBytes += take;
        rest = rest.subarray(take);
        await flush();
      }
      if (rest.length > 0) {
        pending.push(rest);
        pendingBytes += rest.length;
      }
    }
    await flush();
    return location;
  }

  /** Uploads small in-memory content (a config, an empty blob) in one POST + PUT. */
  async pushBytes(desc: { digest: string; size: number }, bytes: Buffer, signal?: AbortSignal): Promise<void> {
    if (digestLike(desc.digest, bytes) !== desc.digest || bytes.length !== desc.size) {
      throw new DigestMismatch(`blob ${desc.digest}`, desc.digest, digestLike(desc.digest, bytes));
    }
    await this.uploadBlob(await this.startUpload(signal), desc, Readable.from([bytes]), signal);
  }

  private location(res: Response, operation: string): string {
    const location = header(res, 'location');
    if (!location) throw new ProtocolError(`${operation}: the registry sent no Location header`);
    return location;
  }

  /**
   * Lists the manifests that refer to `digest` (their `subject`): the referrers API where the registry has it,
   * otherwise the `sha256-<hex>` tag holding an index of them.
   */
  async referrers(digest: string, signal?: AbortSignal): Promise<Descriptor[]> {
    // While the first call finds out whether the API exists, the others wait rather than all probing at once.
    if (this.host.referrersApi === undefined) await this.host.referrersProbe?.catch(() => {});
    if (this.host.referrersApi !== false) {
      const answer = this.referrersFromApi(digest, signal);
      if (this.host.referrersApi === undefined) this.host.referrersProbe = answer;
      const found = await answer;
      if (found) return found;
    }
    return this.fallbackReferrers(digest, signal);
  }

  /** The referrers API's answer, or undefined when the registry has no such API (and then remembers that). */
  private async referrersFromApi(digest: string, signal?: AbortSignal): Promise<Descriptor[] | undefined> {
    const operation = `GET referrers of ${this.name}@${digest}`;
    const res = await this.t.send({
      method: 'GET',
      url: `/v2/${this.name}/referrers/${digest}`,
      scopes: this.scopes,
      headers: { accept: OCI_INDEX },
      operation,
      signal,
    });
    if (res.statusCode === 200) {
      this.host.referrersApi = true;
      const index = parseManifest(await readLimited(res, MANIFEST_LIMIT, operation), OCI_INDEX, operation);
      return index.kind === 'index' ? index.manifests : [];
    }
    if (![404, 400, 405].includes(res.statusCode)) await this.t.fail(res, operation);
    await res.body.dump();
    this.host.referrersApi = false;
    return undefined;
  }

  /** The `sha256-<hex>` fallback index of `digest` (empty when there is none), without asking the referrers API. */
  readReferrersIndex(digest: string, signal?: AbortSignal): Promise<Descriptor[]> {
    return this.fallbackReferrers(digest, signal);
  }

  private async fallbackReferrers(digest: string, signal?: AbortSignal): Promise<Descriptor[]> {
    try {
      const m = await this.getManifest(referrersTag(digest), signal);
      const index = parseManifest(m.bytes, m.mediaType, `referrers index ${this.name}:${referrersTag(digest)}`);
      return index.kind === 'index' ? index.manifests : [];
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) return [];
      throw e;
    }
  }

  /**
   * Adds descriptors to the `sha256-<hex>` fallback index of `subject` (read, merge by digest, write back; `read`:
   * the index as the caller just read it, so it is not read again); answers whether it wrote (false: all were listed
   * already).
   */
  async addToReferrersIndex(
    subject: string,
    add: readonly Descriptor[],
    signal?: AbortSignal,
    read?: readonly Descriptor[],
  ): Promise<boolean> {
    const current = read ?? (await this.fallbackReferrers(subject, signal));
    const known = new Set(current.map((d) => d.digest));
    const missing = add.filter((d) => !known.has(d.digest));
    if (missing.length === 0) return false;
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...current, ...missing] };
    await this.putManifest(referrersTag(subject), Buffer.from(JSON.stringify(index)), OCI_INDEX, signal);
    return true;
  }

  /**
   * Whether the repository has any tag: false when the registry does not know the repository (404), undefined when
   * its answer does not say. One request; the body (all tags, on registries that ignore `n`) is not parsed.
   */
  async hasTags(signal?: AbortSignal): Promise<boolean | undefined> {
    const res = await this.t.send({
      method: 'GET',
      url: `/v2/${this.name}/tags/list?n=1`,
      scopes: this.scopes,
      operation: `list tags of ${this.name}`,
      signal,
    });
    await res.body.dump();
    return res.statusCode === 404 ? false : res.statusCode === 200 ? true : undefined;
  }

  /** All tags, following `Link: <...>; rel="next"` pages. */
  async listTags(signal?: AbortSignal): Promise<string[]> {
    const operation = `list tags of ${this.name}`;
    const tags: string[] = [];
    let url: string | undefined = `/v2/${this.name}/tags/list?n=1000`;
    const seen = new Set<string>();
    while (url !== undefined && !seen.has(url) && seen.size < 10_000) {
      seen.add(url);
      const res = await this.expect(
        await this.t.send({ method: 'GET', url, scopes: this.scopes, operation, signal }),
        [200],
        operation,
      );
      const body = JSON.parse((await readLimited(res, 32 << 20, operation)).toString('utf8')) as { tags?: unknown };
      if (Array.isArray(body.tags)) for (const t of body.tags) if (typeof t === 'string') tags.push(t);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res, 'link') ?? '');
      url = next?.[1];
    }
    return tags;
  }
}

/** Appends `digest=` as text: rebuilding the query would re-encode the registry's opaque `_state` parameter. */
function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}
