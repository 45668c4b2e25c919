/**
 * The HTTP server: Fastify with TypeBox route schemas (validated, unknown fields refused, documented as OpenAPI 3.1),
 * identity from an API token or a session cookie (with a CSRF token on mutating calls), a declared permission on
 * every route, errors mapped in http-errors.ts, request ids in every log line, and Prometheus metrics.
 */
import Fastify, { type RouteOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Forbidden, Overloaded } from '../errors.ts';
import { backpressure, type BackpressureOptions } from './backpressure.ts';
import type { App, DeclaredRoute, Services } from './context.ts';
import { answerClientError, httpError } from './http-errors.ts';
import { refuseHostileStrings } from './hostile-strings.ts';
import { IdentityCache } from './identity-cache.ts';
import { createMetrics } from './metrics.ts';
import { buildSerializer, cacheValidators } from './schema-cache.ts';
import { authorize, authorizeEnvironments } from './permissions.ts';
import { accountRoutes } from './routes/accounts.routes.ts';
import { artifactRoutes } from './routes/artifacts.routes.ts';
import { auditRoutes } from './routes/audit.routes.ts';
import { environmentRoutes } from './routes/environments.routes.ts';
import { gitTargetRoutes } from './routes/git-targets.routes.ts';
import { eventRoutes } from './routes/events.routes.ts';
import { policyRoutes } from './routes/policies.routes.ts';
import { projectRoutes } from './routes/projects.routes.ts';
import { namespaceRoutes } from './routes/namespaces.routes.ts';
import { promotionRoutes } from './routes/promotions.routes.ts';
import { releaseRoutes } from './routes/releases.routes.ts';
import { webhookRoutes } from './routes/webhooks.routes.ts';
import { hookRoutes } from './routes/hooks.routes.ts';
import { automationRoutes } from './routes/automation.routes.ts';
import { boardRoutes } from './routes/board.routes.ts';
import { registryRoutes } from './routes/registries.routes.ts';
import { ssoRoutes } from './routes/sso.routes.ts';
import { systemRoutes } from './routes/system.routes.ts';
import { trustRoutes } from './routes/trust.routes.ts';
import { signingKeyRoutes } from './routes/signing-key.routes.ts';
import { credentialsOf, CSRF_HEADER, SESSION_COOKIE } from './session.ts';
import { wantsConsole, webRoutes } from './web.ts';
import { VERSION } from '../version.ts';
import { hoistComponents } from './components/index.ts';
import { asReader } from '../store/reserved-reads.ts';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface ServerOptions {
  /** pino logger options, or false for none (tests). */
  logger?: boolean | { level: string };
  bodyLimit?: number;
  /** false: no web console routes (API-only tests); otherwise the console from `webRoot` (default: web/dist). */
  web?: boolean;
  webRoot?: string;
  /** Believe X-Forwarded-For/-Proto (hoist runs behind a reverse proxy that sets them): client address and HTTPS. */
  trustProxy?: boolean;
  /** Load limits past which requests are refused with 503 and Retry-After (see backpressure.ts for the defaults). */
  backpressure?: BackpressureOptions;
}

/** An onRoute hook: refuses a route that declares no permission, and records the others in `routes`. */
export function requireDeclaredPermission(routes: DeclaredRoute[]): (route: RouteOptions) => void {
  return (route) => {
    const permission = route.config?.permission;
    if (permission === undefined) throw new Error(`route ${String(route.method)} ${route.url} declares no permission`);
    for (const method of [route.method].flat())
      if (method !== 'HEAD') routes.push({ method, url: route.url, permission });
  };
}

export async function buildServer(services: Services, o: ServerOptions = {}): Promise<App> {
  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit: o.bodyLimit ?? 1024 * 1024,
    trustProxy: o.trustProxy ?? false,
    // Path parameters are bounded by their schemas (application names 128, sha512 digests 135 characters); Fastify's
    // own limit (100 by default, a 414) would refuse names the API accepts.
    routerOptions: { maxParamLength: 256 },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    // Validators and serializers are compiled once per process for each schema (schema-cache.ts): tests build many.
    ajv: {
      // coerceTypes true, not 'array': with 'array', ajv turns a null into [''] while trying the first branch of
      // Array | Null.
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
      onCreate: cacheValidators,
    },
    schemaController: { compilersFactory: { buildSerializer } },
    // Errors Fastify or Node answer before any route runs get the documented shape too.
    frameworkErrors: (error, _req, reply) => {
      const { status, body, headers } = httpError(error);
      // The reply of a request that matched no route yet: untyped by any route schema.
      const raw = reply as unknown as {
        status(n: number): typeof raw;
        headers(h: object): typeof raw;
        send(b: unknown): void;
      };
      raw
        .status(status)
        .headers(headers ?? {})
        .send(body);
    },
    clientErrorHandler: answerClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const metrics = createMetrics(services.database, [
    services.runner.queue,
    services.dispatcher.queue,
    services.intake.queue,
    services.gitops.queue,
  ]);

  const routes: DeclaredRoute[] = [];
  app.decorate('declaredRoutes', routes);
  app.addHook('onRoute', requireDeclaredPermission(routes));

  // First of all, before a credential costs a query: over the load limits, 503 with Retry-After.
  const pressure = backpressure(o.backpressure);
  app.addHook('onRequest', pressure.onRequest);
  app.addHook('onClose', async () => pressure.close());
  // Reads may use the database connections kept for them (store/reserved-reads.ts), credential lookup included.
  app.addHook('onRequest', (req, _reply, done) =>
    req.method === 'GET' || req.method === 'HEAD' ? asReader(done) : done(),
  );

  // Who a credential belongs to, kept a few seconds and forgotten on any identity change (identity-cache.ts).
  const identities = new IdentityCache(
    (credential) => services.accounts.identify(credential),
    services.database.notifier,
  );
  await identities.start();
  app.addHook('onClose', async () => identities.stop());
  // A change made through this replica is seen by the caller's next request, before PostgreSQL's notification of it
  // comes back: anything but a read forgets what was kept, before its answer is sent.
  app.addHook('onSend', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') identities.forget();
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    // A registry's hook is authenticated by its hook secret, never as a user: its Authorization header is no API token,
    // and looking it up as one cost a query on every event (a registry sends one per pull, too).
    const credential = req.routeOptions.config.permission?.kind === 'hook' ? undefined : credentialsOf(req);
    if (credential !== undefined) {
      const identity = await identities.identify(credential);
      if (identity) req.identity = identity;
    }
  });

  // First of all: no NUL or lone surrogate reaches a route, a permission check or the database.
  app.addHook('preValidation', async (req) => refuseHostileStrings(req));

  // Before validation: an anonymous caller learns nothing about a route's body schema.
  app.addHook('preValidation', async (req) => {
    const permission = req.routeOptions.config.permission;
    // Only the not-found handler has no permission (every route declares one, see requireDeclaredPermission).
    if (permission === undefined) return;
    authorize(permission, req.identity, req.params as Record<string, string>);
    if (
      req.identity?.via === 'session' &&
      MUTATING.has(req.method) &&
      req.headers[CSRF_HEADER] !== req.identity.csrfToken
    ) {
      throw new Forbidden(`a signed-in browser must send the ${CSRF_HEADER} header given at login`, {
        roleHelps: false,
      });
    }
    await authorizeEnvironments(permission, req.identity, services, {
      params: req.params as Record<string, string>,
      body: req.body,
    });
  });

  // Again once the body is validated, as the route will read it: validation coerces (`to: [2026]` becomes the
  // environment "2026", `to: true` the environment "true"), and a check of the body as sent saw no name there.
  app.addHook('preHandler', async (req) => {
    const permission = req.routeOptions.config.permission;
    if (permission === undefined) return;
    await authorizeEnvironments(permission, req.identity, services, {
      params: req.params as Record<string, string>,
      body: req.body,
    });
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.durations.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error, req, reply) => {
    const { status, body, headers } = httpError(error);
    // A refusal for load is expected under load: one log line each would add to it.
    if (status >= 500 && !(error instanceof Overloaded)) req.log.error({ err: error }, 'request failed');
    void reply
      .status(status)
      .headers(headers ?? {})
      .send(body);
  });
  const sendConsole = o.web === false ? undefined : await webRoutes(app, o.webRoot);
  app.setNotFoundHandler((req, reply) => {
    // A deep link into the web console (a GET for HTML outside the API) gets the console's page.
    if (sendConsole !== undefined && wantsConsole(req)) return sendConsole(reply);
    // A path that exists under other methods is a 405 that says which (Fastify answers both with a 404).
    const path = req.url.split('?')[0] ?? req.url;
    const allowed = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter(
      (method) => method !== req.method && app.findRoute({ method: method as 'GET', url: path }) !== null,
    );
    if (allowed.length > 0) {
      void reply
        .status(405)
        .header('allow', allowed.join(', '))
        .send({
          error: {
            code: 'METHOD_NOT_ALLOWED',
            message: `${path} does not take ${req.method}; it takes ${allowed.join(', ')}`,
            details: { allow: allowed },
          },
        });
      return;
    }
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
  });

  await app.register(swagger, {
    // Named schemas are inline in the routes; the document refers to them by $ref (see components/component.ts).
    transformObject: (doc) => ('openapiObject' in doc ? hoistComponents(doc.openapiObject) : doc.swaggerObject),
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'hoist',
        version: VERSION,
        description: 'Container-image promotion: registries, projects, environments, promotions, audit.',
      },
      components: {
        securitySchemes: {
          token: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
      security: [{ token: [] }, { session: [] }],
    },
  });

  systemRoutes(app, services, metrics);
  accountRoutes(app, services);
  ssoRoutes(app, services);
  auditRoutes(app, services);
  registryRoutes(app, services);
  projectRoutes(app, services);
  boardRoutes(app, services);
  namespaceRoutes(app, services);
  environmentRoutes(app, services);
  gitTargetRoutes(app, services);
  policyRoutes(app, services);
  artifactRoutes(app, services);
  trustRoutes(app, services);
  signingKeyRoutes(app, services);
  promotionRoutes(app, services);
  releaseRoutes(app, services);
  webhookRoutes(app, services);
  hookRoutes(app, services);
  automationRoutes(app, services);
  eventRoutes(app, services);
  // Open event streams would keep the server from closing: end them first (clients reconnect elsewhere).
  app.addHook('preClose', () => services.live.close());
  await app.ready();
  return app;
}
