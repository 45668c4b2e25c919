/** The one error shape of every failed call. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

export const ErrorBody = component(
  'Error',
  Type.Object(
    {
      error: Type.Object({
        code: Type.String({ description: 'stable, machine-readable (e.g. NOT_FOUND, POLICY_DENIED)' }),
        message: Type.String({ description: 'for people: what went wrong and what to do' }),
        details: Type.Optional(Type.Unknown()),
      }),
    },
    { description: 'Every error answer has this shape' },
  ),
);
