/** Releases: named sets of (application, digest) pairs of one project, promoted together. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

export const Release = component(
  'Release',
  Type.Object({
    name: Type.String(),
    project: Type.String(),
    comment: Type.String(),
    from: Type.Union([Type.String(), Type.Null()], { description: 'the environment it was made from, if any' }),
    createdBy: Type.String(),
    createdAt: Type.String(),
    applications: Type.Array(Type.Object({ application: Type.String(), digest: Type.String() })),
    promotions: Type.Optional(
      Type.Array(
        Type.Object({
          id: Type.String(),
          from: Type.String(),
          requestedBy: Type.String(),
          createdAt: Type.String(),
          targets: Type.Array(Type.Object({ environment: Type.String(), state: Type.String() })),
        }),
        { description: 'its promotion requests, newest first (on GET of one release)' },
      ),
    ),
  }),
);
