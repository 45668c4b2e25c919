/** Health, readiness, metrics, and the API's own OpenAPI document and reference page. */
import type { App, Services } from '../context.ts';
import type { Metrics } from '../metrics.ts';
import { PUBLIC } from '../permissions.ts';
import { VERSION } from '../../version.ts';

export function systemRoutes(app: App, services: Services, metrics: Metrics): void {
  const hide = { hide: true } as const;
  app.get('/healthz', { config: { permission: PUBLIC }, schema: hide }, async () => ({
    status: 'ok',
    version: VERSION,
  }));
  app.get('/readyz', { config: { permission: PUBLIC }, schema: hide }, async (_req, reply) => {
    try {
      await services.database.ping();
      return { status: 'ready', database: services.database.backend };
    } catch (e) {
      return reply
        .status(503)
        .send({ error: { code: 'DATABASE_UNAVAILABLE', message: `database not reachable: ${(e as Error).message}` } });
    }
  });
  app.get('/metrics', { config: { permission: PUBLIC }, schema: hide }, async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/api/v1/openapi.json', { config: { permission: PUBLIC }, schema: hide }, async () => app.swagger());
  app.get('/api/v1/docs', { config: { permission: PUBLIC }, schema: hide }, async (_req, reply) =>
    reply.type('text/html').send(referencePage(app.swagger() as OpenApiDoc)),
  );
}

interface OpenApiDoc {
  info: { title: string; version: string };
  paths?: Record<string, Record<string, { summary?: string; description?: string; tags?: string[] }>>;
}

const escape = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A plain, self-contained reference page (no external assets: the server may have no internet). */
function referencePage(doc: OpenApiDoc): string {
  const rows = Object.entries(doc.paths ?? {}).flatMap(([path, ops]) =>
    Object.entries(ops).map(
      ([method, op]) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${escape(op.summary ?? op.description ?? '')}</td></tr>`,
    ),
  );
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(doc.info.title)} API</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem}td{padding:.2rem .8rem;border-bottom:1px solid #ddd}code{font-size:13px}</style></head>
<body><h1>${escape(doc.info.title)} API ${escape(doc.info.version)}</h1><p>Machine-readable: <a href="/api/v1/openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
<table>${rows.join('')}</table></body></html>`;
}
