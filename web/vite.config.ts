// The web console's build: a tiny entry (src/main.ts) that starts the API requests and loads the app, every screen a
// chunk of its own, no inline scripts (the server's Content-Security-Policy allows only same-origin scripts), built
// into web/dist which `hoist serve` serves.
import { defineConfig, type HtmlTagDescriptor, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/** The modules whose chunks index.html preloads: the app and its first screen, the board (the page opened most). */
const PRELOAD = ['src/root.tsx', 'src/pages/board.tsx'];

/**
 * `<link rel="modulepreload">` in index.html for the chunks of PRELOAD and everything they import statically: the
 * browser fetches and compiles them beside the entry and the entry's API requests, instead of one after the other
 * (HTML → entry → app → board).
 */
function preloadFirstScreen(): Plugin {
  return {
    name: 'hoist-preload-first-screen',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(_html, ctx): HtmlTagDescriptor[] {
        if (ctx.bundle === undefined) return [];
        const chunks = Object.values(ctx.bundle).flatMap((c) => (c.type === 'chunk' ? [c] : []));
        const entry = chunks.find((c) => c.isEntry)?.fileName;
        const files = new Set<string>();
        const add = (file: string) => {
          if (file === entry || files.has(file)) return;
          files.add(file);
          for (const dep of chunks.find((c) => c.fileName === file)?.imports ?? []) add(dep);
        };
        for (const id of PRELOAD) {
          const chunk = chunks.find((c) => c.facadeModuleId?.endsWith(`/web/${id}`));
          if (chunk === undefined) throw new Error(`web build: no chunk for ${id} to preload`);
          add(chunk.fileName);
        }
        return [...files].map((file) => ({
          tag: 'link',
          attrs: { rel: 'modulepreload', crossorigin: true, href: `/${file}` },
          injectTo: 'head',
        }));
      },
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react(), preloadFirstScreen()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
