// Builds the web console (web/ → web/dist) with Vite, then prints the initial JavaScript's gzipped size and fails
// above the budget: what the browser loads before the first screen is interactive (the entry chunk, the chunks
// index.html preloads — the app and the board — and every chunk those import statically; other screens, loaded on
// demand, are not counted). Every asset is also written gzip- and brotli-compressed beside itself (NAME.gz, NAME.br)
// for `hoist serve` to send to browsers that accept them. Skips the build when web/dist is newer than every source
// file (`--force` builds anyway).
import { build } from 'vite';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const BUDGET = 100 * 1024;
const root = new URL('../web/', import.meta.url).pathname;
const out = join(root, 'dist');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'dist' || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const index = join(out, 'index.html');
if (!process.argv.includes('--force') && existsSync(index) && statSync(index).mtimeMs > newest(root)) process.exit(0);

await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn', build: { manifest: true } });

const manifest = JSON.parse(readFileSync(join(out, '.vite', 'manifest.json'), 'utf8'));
const seen = new Set();
function initial(key) {
  if (seen.has(key)) return;
  seen.add(key);
  for (const k of manifest[key]?.imports ?? []) initial(k);
}
for (const [key, chunk] of Object.entries(manifest)) if (chunk.isEntry) initial(key);
const html = readFileSync(index, 'utf8');
for (const [, href] of html.matchAll(/<link rel="modulepreload"[^>]* href="\/([^"]+)"/g)) {
  const key = Object.keys(manifest).find((k) => manifest[k].file === href);
  if (key === undefined) throw new Error(`web: index.html preloads ${href}, which the build did not write`);
  initial(key);
}

// Precompressed copies: the server picks one by Accept-Encoding (no compression work per request).
const assets = join(out, 'assets');
for (const name of readdirSync(assets)) {
  if (!/\.(js|css|svg|json)$/.test(name)) continue;
  const raw = readFileSync(join(assets, name));
  if (raw.length < 1024) continue; // Not worth a header and a second file.
  writeFileSync(join(assets, `${name}.gz`), gzipSync(raw, { level: 9 }));
  writeFileSync(
    join(assets, `${name}.br`),
    brotliCompressSync(raw, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
    }),
  );
}

let total = 0;
for (const key of seen) total += gzipSync(readFileSync(join(out, manifest[key].file))).length;
const kib = (total / 1024).toFixed(1);
if (total > BUDGET) {
  console.error(`web: initial JavaScript is ${kib} KiB gzipped, over the ${BUDGET / 1024} KiB budget`);
  process.exit(1);
}
console.log(`web: built web/dist; initial JavaScript ${kib} KiB gzipped (budget ${BUDGET / 1024} KiB)`);
