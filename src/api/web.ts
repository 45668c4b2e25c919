/**
 * Serves the web console built into web/dist: `/assets/*` (content-hashed, cached for a year), and index.html for
 * `/` and every deep link (never cached, so a new release shows at once), under a strict Content-Security-Policy
 * with no inline script. The deep-link fallback answers only GETs that want HTML outside the API and the operational
 * endpoints, so an unknown `/api/...` path still gets the API's own 404. Without a built console it says how to build one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
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

  await app.register(fastifyStatic, { root, serve: false });
  const index = readFileSync(join(root, 'index.html'));
  const sendIndex = (reply: FastifyReply) =>
    security(reply).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);

  app.get('/', { config: { permission: PUBLIC }, schema: { hide: true } }, async (_req, reply) => sendIndex(reply));
  app.get('/assets/*', { config: { permission: PUBLIC }, schema: { hide: true } }, async (req, reply) => {
    const file = (req.params as { '*': string })['*'];
    security(reply).header('cache-control', 'public, max-age=31536000, immutable');
    return reply.sendFile(join('assets', file), { cacheControl: false });
  });
  return sendIndex;
}
