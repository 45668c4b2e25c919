// The media types the harness writes, in one place, and which ones belong to which manifest format.

export type ImageFormat = 'oci' | 'docker';

export const MediaTypes = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Every manifest type, for the Accept header (distribution 2.8 hides OCI content from clients that omit them). */
export const MANIFEST_ACCEPT = [
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
].join(', ');

export function formatTypes(format: ImageFormat): { manifest: string; index: string; config: string; layer: string } {
  switch (format) {
    case 'oci':
      return {
        manifest: MediaTypes.ociManifest,
        index: MediaTypes.ociIndex,
        config: MediaTypes.ociConfig,
        layer: MediaTypes.ociLayer,
      };
    case 'docker':
      return {
        manifest: MediaTypes.dockerManifest,
        index: MediaTypes.dockerManifestList,
        config: MediaTypes.dockerConfig,
        layer: MediaTypes.dockerLayer,
      };
  }
}
