/** Login and logout (browser sessions), who am I, users (admin), and API tokens. */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { ADMIN, AUTHENTICATED, PUBLIC } from '../permissions.ts';
import { SESSION_COOKIE, sessionCookie } from '../session.ts';
import { listUsers } from '../../store/accounts.repository.ts';

import { Me, NewToken, Session, Token, User } from '../components/index.ts';
import { ErrorSchema } from './schemas.ts';
import { Email, Id, Label, Password, Username } from './fields.ts';
const userView = (u: {
  username: string;
  isAdmin: boolean;
  email: string | null;
  createdAt: Date;
  external: boolean;
}) => ({
  username: u.username,
  isAdmin: u.isAdmin,
  email: u.email,
  createdAt: u.createdAt.toISOString(),
  external: u.external,
});
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function accountRoutes(app: App, s: Services): void {
  app.post(
    '/api/v1/login',
    {
      config: { permission: PUBLIC },
      schema: {
        operationId: 'login',
        summary: 'Sign in with a password; sets the session cookie and answers the CSRF token for mutating calls',
        tags: ['accounts'],
        body: Type.Object({ username: Username(), password: Password() }, { additionalProperties: false }),
        response: {
          200: Session,
          401: ErrorSchema,
          429: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const user = await s.accounts.login(req.body.username, req.body.password, req.ip);
      const session = await s.accounts.createSession(user.id);
      void reply.header('set-cookie', sessionCookie(session.secret, session.expiresAt, req.protocol === 'https'));
      return { username: user.username, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() };
    },
  );

  app.post(
    '/api/v1/logout',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'logout',
        summary: 'End the browser session',
        tags: ['accounts'],
        response: { 200: Type.Object({ status: Type.String() }) },
      },
    },
    async (req, reply) => {
      const secret = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]+)`).exec(req.headers.cookie ?? '')?.[1];
      if (secret) await s.accounts.endSession(decodeURIComponent(secret));
      void reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${req.protocol === 'https' ? '; Secure' : ''}`,
      );
      return { status: 'signed out' };
    },
  );

  app.get(
    '/api/v1/me',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'getMe',
        summary: 'Who the caller is and their project roles',
        tags: ['accounts'],
        response: { 200: Me },
      },
    },
    async (req) => {
      const id = req.identity!;
      return {
        username: id.username,
        isAdmin: id.isAdmin,
        memberships: id.memberships,
        via: id.via,
        // A browser tab that did not sign in itself (a second tab, a reload) needs it for mutating calls.
        ...(id.via === 'session' ? { csrfToken: id.csrfToken } : {}),
        badges: { approvalsWaiting: await s.promotions.waitingFor(id.username) },
      };
    },
  );

  app.get(
    '/api/v1/users',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'listUsers',
        summary: 'List users',
        tags: ['accounts'],
        response: { 200: Type.Object({ items: Type.Array(User) }) },
      },
    },
    async () => ({ items: (await listUsers(s.database.db)).map(userView) }),
  );

  app.post(
    '/api/v1/users',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'createUser',
        summary: 'Create a user',
        tags: ['accounts'],
        body: Type.Object(
          {
            username: Username(),
            password: Password(),
            isAdmin: Type.Optional(Type.Boolean()),
            email: Type.Optional(Type.Union([Type.Null(), Email()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: User, 400: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req, reply) => {
      const u = await s.accounts.createUser(actorOf(req), req.body);
      return reply.status(201).send(userView(u));
    },
  );

  app.patch(
    '/api/v1/users/:username',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'updateUser',
        summary: "Change a user's e-mail address (where approval requests go)",
        tags: ['accounts'],
        params: Type.Object({ username: Username() }),
        body: Type.Object({ email: Type.Union([Type.Null(), Email()]) }, { additionalProperties: false }),
        response: { 200: User, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (req) => userView(await s.accounts.setEmail(actorOf(req), req.params.username, req.body.email)),
  );

  app.get(
    '/api/v1/tokens',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'listTokens',
        summary: "The caller's API tokens (never their secrets)",
        tags: ['tokens'],
        response: { 200: Type.Object({ items: Type.Array(Token) }) },
      },
    },
    async (req) => ({
      items: (await s.accounts.listTokens(req.identity!.userId)).map((t) => ({
        id: t.id,
        name: t.name,
        createdAt: t.createdAt.toISOString(),
        expiresAt: iso(t.expiresAt),
        revokedAt: iso(t.revokedAt),
        lastUsedAt: iso(t.lastUsedAt),
      })),
    }),
  );

  app.post(
    '/api/v1/tokens',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'createToken',
        summary: 'Create an API token; its secret is in this answer only',
        tags: ['tokens'],
        body: Type.Object(
          { name: Label(), expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })) },
          { additionalProperties: false },
        ),
        response: {
          201: NewToken,
          400: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const id = req.identity!;
      const t = await s.accounts.createToken(
        { userId: id.userId, username: id.username, requestId: req.id },
        req.body.name,
        req.body.expiresInDays,
      );
      return reply.status(201).send({ id: t.id, name: t.name, token: t.token, expiresAt: iso(t.expiresAt) });
    },
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'revokeToken',
        summary: 'Revoke an API token',
        tags: ['tokens'],
        params: Type.Object({ id: Id() }),
        response: { 204: Type.Null(), 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      const id = req.identity!;
      await s.accounts.revokeToken(
        { userId: id.userId, username: id.username, isAdmin: id.isAdmin, requestId: req.id },
        req.params.id,
      );
      return reply.status(204).send(null);
    },
  );
}
