/** Single sign-on: the provider's configuration (never its secret), what the sign-in page needs, the CLI's token. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

export const SsoConfig = component(
  'SsoConfig',
  Type.Object({
    issuer: Type.String({ description: "the provider's issuer URL (its discovery document is under it)" }),
    clientId: Type.String(),
    hasSecret: Type.Boolean({ description: 'whether a client secret is stored (sealed; never answered)' }),
    displayName: Type.String({ description: 'shown on the sign-in page: "Sign in with <displayName>"' }),
    scopes: Type.Array(Type.String()),
    groupsClaim: Type.String({ description: 'the claim listing the user’s groups' }),
    groupRoles: Type.Array(Type.String(), {
      description: 'GROUP:PROJECT:ROLE (a project role) or GROUP:*:admin (hoist admins)',
    }),
    updatedBy: Type.String(),
    updatedAt: Type.String({ format: 'date-time' }),
  }),
);

export const SsoStatus = component(
  'SsoStatus',
  Type.Object({
    enabled: Type.Boolean(),
    displayName: Type.Union([Type.String(), Type.Null()]),
    loginUrl: Type.Union([Type.String(), Type.Null()], {
      description: 'where a browser goes to sign in (add ?returnTo=/path to come back there)',
    }),
  }),
);

export const SsoCliToken = component(
  'SsoCliToken',
  Type.Object(
    {
      username: Type.String(),
      name: Type.String(),
      token: Type.String(),
      expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    },
    { description: 'An API token for the CLI that signed in with SSO: its secret is in this answer only' },
  ),
);
