/** Users, API tokens and the caller's own view of themselves. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

const DateTime = Type.String({ format: 'date-time' });
const MaybeDateTime = Type.Union([DateTime, Type.Null()]);

export const ProjectRole = component(
  'ProjectRole',
  Type.Union([Type.Literal('owner'), Type.Literal('promoter'), Type.Literal('developer'), Type.Literal('viewer')]),
);

export const Membership = component(
  'Membership',
  Type.Object({
    project: Type.String(),
    role: ProjectRole,
    environments: Type.Union([Type.Array(Type.String()), Type.Null()], {
      description: 'the environments the role is limited to; null: all of the project',
    }),
  }),
);

export const User = component(
  'User',
  Type.Object({
    username: Type.String(),
    isAdmin: Type.Boolean(),
    email: Type.Union([Type.String(), Type.Null()]),
    createdAt: DateTime,
    external: Type.Boolean({
      description: 'signs in with single sign-on (created at the first sign-in; no password)',
    }),
  }),
);

export const Token = component(
  'Token',
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    createdAt: DateTime,
    expiresAt: MaybeDateTime,
    revokedAt: MaybeDateTime,
    lastUsedAt: MaybeDateTime,
  }),
);

export const NewToken = component(
  'NewToken',
  Type.Object(
    { id: Type.String(), name: Type.String(), token: Type.String(), expiresAt: MaybeDateTime },
    { description: 'A created token: its secret is in this answer only' },
  ),
);

export const Session = component(
  'Session',
  Type.Object({ username: Type.String(), csrfToken: Type.String(), expiresAt: DateTime }),
);

export const Me = component(
  'Me',
  Type.Object({
    username: Type.String(),
    isAdmin: Type.Boolean(),
    via: Type.Union([Type.Literal('token'), Type.Literal('session')]),
    memberships: Type.Array(Membership, { description: "the caller's role in each of their projects" }),
    badges: Type.Object({
      approvalsWaiting: Type.Integer({
        description:
          'requests, in every project, with a target the caller may approve now (GET …/promotions?pendingFor=me)',
      }),
    }),
    csrfToken: Type.Optional(
      Type.String({ description: 'a session caller only: the header value its mutating calls must send' }),
    ),
  }),
);
