/**
 * Serves the web console built into web/dist: `/assets/*` (content-hashed, cached for a year, as brotli or gzip
 * compressed at build time when the browser accepts it), and index.html for `/` and every deep link (never cached,
 * so a new release shows at once), under a strict Content-Security-Policy with no inline script. Everything is read
 * into memory at start (about 1 MB with the compressed copies): a page load asks for a dozen files at once, and
 * answering each from memory takes no file-system round trips through the thread pool (which, on a busy machine,
 * made the console's small entry script wait hundreds of milliseconds behind the others). The deep-link fallback answers only GETs that want HTML outside the API and the operational
 * endpoints, so an unknown `/api/...` path still gets the API's own 404. Without a built console it says how to build one.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './context.ts';
import { PUBLIC } from './permissions.ts';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_CONSOLE = /^\/(?:api(?:\/|$)|healthz$|readyz$|metrics$)/;

/** The folder holding the built console: web/dist beside the package.json of hoist, from source or from dist/. */
export function webRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) {
      const built = join(dir, 'web', 'dist');
      return existsSync(join(built, 'index.html')) ? built : undefined;
    }
    dir = dirname(dir);
  }
  return undefined;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

interface Asset {
  type: string;
  raw: Buffer;
  br?: Buffer;
  gzip?: Buffer;
}

/** web/dist/assets by file name, each with the brotli and gzip copies the build wrote (NAME.br, NAME.gz) if any. */
function readAssets(root: string): Map<string, Asset> {
  const dir = join(root, 'assets');
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  const names = new Set(readdirSync(dir));
  for (const name of names) {
    if (name.endsWith('.br') || name.endsWith('.gz')) continue;
    const copy = (suffix: string) => (names.has(name + suffix) ? readFileSync(join(dir, name + suffix)) : undefined);
    const br = copy('.br');
    const gzip = copy('.gz');
    assets.set(name, {
      type: TYPES[extname(name)] ?? 'application/octet-stream',
      raw: readFileSync(join(dir, name)),
      ...(br ? { br } : {}),
      ...(gzip ? { gzip } : {}),
    });
  }
  return assets;
}

/** The encodings an Accept-Encoding header allows (those not refused with q=0), lower-cased. */
function acceptedEncodings(header: string | undefined): Set<string> {
  const accepted = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (name !== '' && !params.some((p) => /^q=0(\.0*)?$/.test(p))) accepted.add(name);
  }
  return accepted;
}

/** Whether a request that matched no route should get the console's index.html (a deep link). */
export function wantsConsole(req: FastifyRequest): boolean {
  const path = req.url.split('?')[0] ?? '';
  return (
    (req.method === 'GET' || req.method === 'HEAD') &&
    !NOT_CONSOLE.test(path) &&
    (req.headers.accept ?? '').includes('text/html')
  );
}

export async function webRoutes(
  app: App,
  root: string | undefined = webRoot(),
): Promise<(reply: FastifyReply) => FastifyReply> {
  const security = (reply: FastifyReply): FastifyReply =>
    reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');

  if (root === undefined) {
    const missing = (reply: FastifyReply) =>
      security(reply)
        .status(503)
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-cache')
        .send(
          '<!doctype html><title>hoist</title><p>The web console is not built. Run <code>node scripts/build-web.mjs</code> (npm start does), then reload. The API is at <a href="/api/v1/docs">/api/v1/docs</a>.</p>',
        );
    app.get('/', { config: { permission: PUBLIC }, schema: { hide: true } }, async (_req, reply) => missing(reply));
    return missing;
  }

  const index = readFileSync(join(root, 'index.html'));
  const assets = readAssets(root);
  // no-cache: the browser asks every time, and a page it already has costs a 304 (the page names the release's assets).
  const etag = `"${createHash('sha256').update(index).digest('base64url').slice(0, 22)}"`;
  const sendIndex = (reply: FastifyReply) => {
    security(reply).type('text/html; charset=utf-8').header('cache-control', 'no-cache').header('etag', etag);
    const known = reply.request.headers['if-none-match'];
    return known !== undefined && known.split(',').some((t) => t.trim() === etag)
      ? reply.status(304).send()
      : reply.send(index);
  };

  app.get('/', { config: { permission: PUBLIC }, schema: { hide: true } }, async (_req, reply) => sendIndex(reply));
  app.get('/assets/*', { config: { permission: PUBLIC }, schema: { hide: true } }, async (req, reply) => {
    const asset = assets.get((req.params as { '*': string })['*']);
    // Never the console's page for a missing file (a stale tab asking for an old release's chunk gets a plain 404).
    if (asset === undefined)
      return security(reply)
        .status(404)
        .send({ error: { code: 'NOT_FOUND', message: `no such console file: ${req.url}` } });
    const accepted = acceptedEncodings(req.headers['accept-encoding']);
    const [encoding, body] =
      asset.br && accepted.has('br')
        ? ['br', asset.br]
        : asset.gzip && accepted.has('gzip')
          ? ['gzip', asset.gzip]
          : [undefined, asset.raw];
    security(reply)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('vary', 'accept-encoding')
      .type(asset.type);
    if (encoding !== undefined) reply.header('content-encoding', encoding);
    return reply.send(body);
  });
  return sendIndex;
}
