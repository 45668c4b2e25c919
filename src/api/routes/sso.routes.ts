/**
 * Single sign-on: the admin's provider configuration, the public status the sign-in page reads, the two browser
 * navigations of a sign-in (`/sso/login` → the provider → `/sso/callback`, redirects rather than API calls, so left out
 * of the OpenAPI document), and the CLI's trade of a one-time code for an API token.
 *
 * The flow is bound to the browser that started it by the `hoist_sso` cookie (SameSite=Lax: the provider's redirect
 * back is a cross-site top-level navigation, which a Strict cookie would not follow). A refused sign-in lands on the
 * sign-in page with the reason (or, for `hoist login --sso`, on the CLI's loopback URL with it).
 */
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput } from '../../errors.ts';
import { SingleSignOn, SsoRefused } from '../../service/sso.service.ts';
import { SsoCliToken, SsoConfig, SsoStatus } from '../components/index.ts';
import { actorOf, type App, type Services } from '../context.ts';
import { ADMIN, PUBLIC } from '../permissions.ts';
import { cookieValue, sessionCookie } from '../session.ts';
import { errors, ErrorSchema } from './schemas.ts';

const FLOW_COOKIE = 'hoist_sso';
const LOGIN_PATH = '/api/v1/sso/login';
const CALLBACK_PATH = '/api/v1/sso/callback';

const SsoBody = Type.Object(
  {
    issuer: Type.String({ maxLength: 512 }),
    clientId: Type.String({ maxLength: 255 }),
    clientSecret: Type.Optional(
      Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], {
        description: 'omit to keep the stored one, null to remove it (a public client using PKCE only)',
      }),
    ),
    displayName: Type.Optional(Type.String({ maxLength: 64 })),
    scopes: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 32 })),
    groupsClaim: Type.Optional(Type.String({ maxLength: 128 })),
    groupRoles: Type.Array(Type.String({ maxLength: 512 }), { maxItems: 500 }),
  },
  { additionalProperties: false },
);

const secure = (req: FastifyRequest): boolean => req.protocol === 'https';
const callbackUrl = (req: FastifyRequest): string => `${req.protocol}://${req.host}${CALLBACK_PATH}`;

/** Where a refused sign-in sends the browser: the CLI's loopback URL, or the sign-in page with the reason. */
function refusedTo(e: SsoRefused): string {
  if (e.cliRedirect !== undefined) return SingleSignOn.cliError(e.cliRedirect, e.message);
  const query = new URLSearchParams({ ...(e.returnTo ? { next: e.returnTo } : {}), sso_error: e.message });
  return `/sign-in?${query.toString()}`;
}

function redirect(reply: FastifyReply, to: string): FastifyReply {
  return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').redirect(to, 303);
}

export function ssoRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/sso/status',
    {
      config: { permission: PUBLIC },
      schema: {
        operationId: 'getSsoStatus',
        summary: 'Whether single sign-on is configured, and the provider’s name (for the sign-in page)',
        tags: ['sso'],
        response: { 200: SsoStatus },
      },
    },
    async () => {
      const status = await s.sso.status();
      return { ...status, loginUrl: status.enabled ? LOGIN_PATH : null };
    },
  );

  app.get(
    '/api/v1/sso',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'getSso',
        summary: 'The single sign-on configuration (never the client secret)',
        tags: ['sso'],
        response: { 200: SsoConfig, 404: ErrorSchema },
      },
    },
    async () => s.sso.get(),
  );

  app.put(
    '/api/v1/sso',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'putSso',
        summary:
          'Configure single sign-on with an OpenID provider (its discovery document is read now) and map its groups to roles',
        tags: ['sso'],
        body: SsoBody,
        response: { 200: SsoConfig, ...errors },
      },
    },
    async (req) => s.sso.put(actorOf(req), req.body),
  );

  app.delete(
    '/api/v1/sso',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'deleteSso',
        summary: 'Turn single sign-on off (users who signed in with it keep their API tokens)',
        tags: ['sso'],
        response: { 204: Type.Null(), 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      await s.sso.remove(actorOf(req));
      return reply.status(204).send(null);
    },
  );

  app.get(
    LOGIN_PATH,
    {
      config: { permission: PUBLIC },
      schema: {
        hide: true,
        querystring: Type.Object(
          {
            returnTo: Type.Optional(Type.String({ maxLength: 2048 })),
            cli: Type.Optional(Type.String({ maxLength: 256 })),
            challenge: Type.Optional(Type.String({ maxLength: 128 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const { returnTo, cli, challenge } = req.query;
      if ((cli === undefined) !== (challenge === undefined))
        throw new InvalidInput('a CLI sign-in passes both cli and challenge', 'cli');
      try {
        const started = await s.sso.start({
          returnTo,
          redirectUri: callbackUrl(req),
          binding: cookieValue(req.headers.cookie, FLOW_COOKIE),
          cli: cli !== undefined && challenge !== undefined ? { redirect: cli, challenge } : undefined,
        });
        void reply.header(
          'set-cookie',
          `${FLOW_COOKIE}=${started.binding}; HttpOnly; SameSite=Lax; Path=/api/v1/sso; Max-Age=600${secure(req) ? '; Secure' : ''}`,
        );
        return redirect(reply, started.url);
      } catch (e) {
        // A returnTo off this server, or a CLI URL off loopback, is refused outright (400): following it is the attack.
        if (!(e instanceof SsoRefused)) throw e;
        return redirect(reply, refusedTo(e));
      }
    },
  );

  app.get(CALLBACK_PATH, { config: { permission: PUBLIC }, schema: { hide: true } }, async (req, reply) => {
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    try {
      const done = await s.sso.finish({
        query,
        binding: cookieValue(req.headers.cookie, FLOW_COOKIE),
        requestId: req.id,
      });
      if (done.cliRedirect !== undefined) return redirect(reply, done.cliRedirect);
      const session = await s.accounts.createSession(done.userId);
      void reply.header('set-cookie', sessionCookie(session.secret, session.expiresAt, secure(req)));
      return redirect(reply, done.returnTo);
    } catch (e) {
      if (!(e instanceof SsoRefused)) throw e;
      req.log.warn({ reason: e.message }, 'single sign-on refused');
      return redirect(reply, refusedTo(e));
    }
  });

  app.post(
    '/api/v1/sso/cli-token',
    {
      config: { permission: PUBLIC },
      schema: {
        operationId: 'ssoCliToken',
        summary:
          'hoist login --sso: trade the one-time code the sign-in sent to the CLI, with its PKCE verifier, for an API token',
        tags: ['sso'],
        body: Type.Object(
          {
            code: Type.String({ maxLength: 128 }),
            codeVerifier: Type.String({ minLength: 43, maxLength: 128 }),
            name: Type.String({ maxLength: 64 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: SsoCliToken, 400: ErrorSchema, 401: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req, reply) => {
      const t = await s.sso.cliToken(req.body.code, req.body.codeVerifier, req.body.name);
      return reply.status(201).send({ ...t, expiresAt: t.expiresAt?.toISOString() ?? null });
    },
  );
}
