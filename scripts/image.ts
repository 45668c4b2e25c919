// `npm run image`: hoist's container image without Docker and without network. Builds the CLI bundle and the web
// console, assembles the root filesystem from this machine's files (scripts/image-rootfs.ts), writes it as an OCI
// image layout (default build/image, tag = package.json's version) and prints its digest and size. With
// `--push HOST/REPO[:TAG]` it then copies the layout to a registry with hoist's own copy engine
// (`hoist copy oci:DIR:TAG DST`; `--insecure-registry HOST` for plain HTTP, as hoist copy takes it).
//
//   npm run image
//   npm run image -- --out /tmp/hoist-image --push 127.0.0.1:5000/hoist:0.1.0 --insecure-registry 127.0.0.1:5000
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeImage } from './image-layout.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'build/image' },
    push: { type: 'string' },
    'insecure-registry': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
});

const started = performance.now();
execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
const image = writeImage(ROOT, resolve(ROOT, values.out));
const seconds = (performance.now() - started) / 1000;
const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
if (values.json) process.stdout.write(`${JSON.stringify({ ...image, seconds })}\n`);
else {
  process.stdout.write(
    `image ${image.reference} ${image.digest} in ${image.dir} (${seconds.toFixed(1)} s)\n` +
      `  ${mib(image.compressedBytes)} compressed, ${mib(image.uncompressedBytes)} unpacked\n` +
      image.layers
        .map(
          (l) =>
            `  layer ${l.digest.slice(0, 19)} ${mib(l.compressedBytes)} (${mib(l.uncompressedBytes)}): ${l.what}\n`,
        )
        .join(''),
  );
}

if (values.push !== undefined) {
  const insecure = (values['insecure-registry'] ?? []).flatMap((h) => ['--insecure-registry', h]);
  execFileSync(
    process.execPath,
    ['dist/hoist.mjs', 'copy', `oci:${image.dir}:${image.tag}`, values.push, ...insecure],
    { cwd: ROOT, stdio: 'inherit' },
  );
}
