// Bundles the CLI into dist/ with esbuild. dist/hoist.mjs only picks what to run (src/cli/entry.ts): `hoist copy`
// runs dist/hoist-copy.mjs, one module with everything a copy needs; every other command runs the whole command line,
// whose commands are separate chunks loaded only when used. Start-up time counts: a no-op `hoist copy` must answer
// in tens of milliseconds.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: 'linked',
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
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
};
/**
 * Node's builtins by `require`, not by ES import. For a builtin imported by name Node builds an ES module facade, and
 * that reads every export, including the lazy ones: `node:fs` then loads its streams and promises API, `node:stream`
 * its promises and operators, `node:crypto` all of WebCrypto (together about 20 ms of CPU at every start-up, for
 * nothing). Through `require` an export is read only where the code uses it. And commander's `node:child_process`
 * (for external subcommands, which hoist has none of) loads only if commander ever uses it.
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      if (args.kind === 'import-statement' && !args.importer.includes('node_modules'))
        return { path: args.path, namespace: 'builtin-require' };
      if (args.kind === 'require-call' && args.path === 'node:child_process' && args.importer.includes('commander'))
        return { path: args.path, namespace: 'builtin-lazy' };
      return undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'builtin-lazy' }, (args) => ({
      contents: `let m; module.exports = new Proxy({}, { get: (_, k) => (m ??= require(${JSON.stringify(args.path)}))[k] });`,
      loader: 'js',
    }));
  },
};
/** The entry imports the copy-only bundle by its built name. */
const copyEntryExternal = {
  name: 'copy-entry',
  setup(b) {
    b.onResolve({ filter: /^\.\/copy-main\.ts$/ }, () => ({ path: './hoist-copy.mjs', external: true }));
  },
};
await Promise.all([
  build({
    ...common,
    entryPoints: { hoist: 'src/cli/entry.ts' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    plugins: [copyEntryExternal, builtinsByRequire],
  }),
  build({ ...common, entryPoints: { 'hoist-copy': 'src/cli/copy-main.ts' }, plugins: [builtinsByRequire] }),
]);
