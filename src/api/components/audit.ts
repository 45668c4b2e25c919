/** The audit log's entries. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

export const AuditEntry = component(
  'AuditEntry',
  Type.Object({
    seq: Type.String(),
    at: Type.String({ format: 'date-time' }),
    actor: Type.String(),
    action: Type.String(),
    objectType: Type.String(),
    objectId: Type.String(),
    summary: Type.Record(Type.String(), Type.Unknown()),
    requestId: Type.Union([Type.String(), Type.Null()]),
    prevHash: Type.String(),
    hash: Type.String(),
  }),
);
