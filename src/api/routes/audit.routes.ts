/** The audit log: filtered, paged reading, and verification of its hash chain. */
import { Type } from '@fastify/type-provider-typebox';
import { listAudit, verifyAudit } from '../../store/audit.repository.ts';
import type { App, Services } from '../context.ts';
import { ADMIN } from '../permissions.ts';

const Entry = Type.Object({
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
});

export function auditRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/audit',
    {
      config: { permission: ADMIN },
      schema: {
        summary: 'Audit entries, oldest first; filter by actor, object and time; page with `cursor`',
        tags: ['audit'],
        querystring: Type.Object(
          {
            actor: Type.Optional(Type.String()),
            objectType: Type.Optional(Type.String()),
            objectId: Type.Optional(Type.String()),
            since: Type.Optional(Type.String({ format: 'date-time' })),
            until: Type.Optional(Type.String({ format: 'date-time' })),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(Entry), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = q.limit ?? 100;
      const rows = await listAudit(s.database.db, {
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
        ...(q.objectType !== undefined ? { objectType: q.objectType } : {}),
        ...(q.objectId !== undefined ? { objectId: q.objectId } : {}),
        ...(q.since !== undefined ? { since: new Date(q.since) } : {}),
        ...(q.until !== undefined ? { until: new Date(q.until) } : {}),
        ...(q.cursor !== undefined ? { after: q.cursor } : {}),
        limit,
      });
      return {
        items: rows.map((r) => ({ ...r, at: r.at.toISOString() })),
        nextCursor: rows.length === limit ? (rows.at(-1)?.seq ?? null) : null,
      };
    },
  );

  app.post(
    '/api/v1/audit/verify',
    {
      config: { permission: ADMIN },
      schema: {
        summary: 'Recompute the hash chain; names the first edited, deleted or reordered row',
        tags: ['audit'],
      },
    },
    async () => verifyAudit(s.database.db),
  );
}
