/**
 * Where a copy reads an image from: a repository on a registry (`RepositoryClient`) or an OCI image layout on disk
 * (`OciLayout`, what `npm run image` writes and skopeo's `oci:` transport reads). The copy engine needs only these
 * reads; what it gets back is verified the same way from either.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from './manifest.ts';
import type { FetchedManifest } from './registry-client.ts';

export interface ImageSource {
  /** For messages: the repository's name, or `oci:DIR`. */
  readonly name: string;
  /** The registry host, or `oci:DIR`: blobs are mounted only between repositories of one origin. */
  readonly origin: string;
  /** A manifest by tag or digest, its bytes checked against the digest. */
  getManifest(ref: string, signal?: AbortSignal): Promise<FetchedManifest>;
  /** The manifests whose subject is `digest` (signatures, SBOMs, attestations). */
  referrers(digest: string, signal?: AbortSignal): Promise<Descriptor[]>;
  /** A blob's bytes, checked against its digest and size while they stream. */
  openBlob(
    desc: { digest: string; size: number },
    signal?: AbortSignal,
    onBytes?: (n: number) => void,
  ): Promise<Readable>;
}
