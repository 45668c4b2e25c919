// Bundles the CLI into dist/ with esbuild. Dynamic imports stay separate chunks, so a command loads only what it uses
// (start-up time counts: a no-op `hoist copy` must answer in tens of milliseconds).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { hoist: 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: 'linked',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  banner: {
    js: "import { createRequire as __hoistCreateRequire } from 'node:module'; const require = __hoistCreateRequire(import.meta.url);",
  },
  // The server's dependencies load from node_modules: PGlite finds its WebAssembly and data files next to its own
  // module, and nothing on the `hoist copy` path needs them. The CLI's own small dependencies stay bundled.
  external: [
    '@electric-sql/pglite',
    'pg',
    'fastify',
    '@fastify/*',
    'pino',
    'prom-client',
    'kysely',
    'typebox',
    'yaml',
    'nodemailer',
  ],
  logLevel: 'warning',
});
