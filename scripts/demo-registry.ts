/**
 * A local registry to try hoist on: the CNCF distribution registry on 127.0.0.1:5000 (PORT to change it) with
 * temporary storage, seeded with `dev/web:1.0` (an OCI index of three platforms, signed, with an SBOM on one
 * platform). Runs until Ctrl-C. `npm run demo:registry`.
 */
import { startRegistry } from '../test/harness/registry.ts';
import { buildArtifact, buildMultiPlatform, SBOM_ARTIFACT, SIGNATURE_ARTIFACT } from '../test/harness/images.ts';
import { pushImage, pushReferrer } from '../test/harness/push.ts';

const port = Number(process.env.PORT ?? 5000);
const registry = await startRegistry({ port });
const image = buildMultiPlatform(3, [4 << 20, 1 << 20, 64 << 10]);
await pushImage(registry.url, 'dev/web', image, { tag: '1.0' });
await pushReferrer(registry.url, 'dev/web', buildArtifact(image, { artifactType: SIGNATURE_ARTIFACT }));
await pushReferrer(registry.url, 'dev/web', buildArtifact(image.children[0]!, { artifactType: SBOM_ARTIFACT }));
process.stdout.write(
  `registry on ${registry.host} with ${registry.host}/dev/web:1.0 (${image.digest}); Ctrl-C stops it\n` +
    `try: ./bin/hoist copy --insecure-registry ${registry.host} ${registry.host}/dev/web:1.0 ${registry.host}/prod/web\n`,
);
const stop = (): void => void registry.stop().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
