/** The audit log: filtered, paged reading, verification of its hash chain, and its signed checkpoints. */
import { Type } from '@fastify/type-provider-typebox';
import { InvalidInput } from '../../errors.ts';
import { CHECKPOINT_FORMAT, parseCheckpoint } from '../../service/audit-checkpoints.ts';
import { listAudit } from '../../store/audit.repository.ts';
import type { App, Services } from '../context.ts';
import { ADMIN, AUTHENTICATED } from '../permissions.ts';
import { AuditEntry } from '../components/index.ts';
import { ErrorSchema } from './schemas.ts';
import { DateTime, Label, Reference } from './fields.ts';

const Checkpoint = Type.Object(
  {
    format: Type.Literal(CHECKPOINT_FORMAT),
    seq: Type.String({ pattern: '^[0-9]{1,19}$' }),
    head: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    at: Type.String({ maxLength: 64 }),
    keyId: Type.String({ maxLength: 200 }),
    signature: Type.String({ maxLength: 200 }),
  },
  { additionalProperties: false },
);

const Verdict = Type.Union([
  Type.Object({
    ok: Type.Literal(true),
    rows: Type.Integer(),
    head: Type.String(),
    headSeq: Type.String(),
    checkpoint: Type.Union([
      Type.Null(),
      Type.Object({
        seq: Type.String(),
        head: Type.String(),
        at: Type.String(),
        keyId: Type.String(),
        source: Type.Union([Type.Literal('given'), Type.Literal('stored')]),
      }),
    ]),
  }),
  Type.Object({
    ok: Type.Literal(false),
    rows: Type.Integer(),
    seq: Type.String(),
    problem: Type.String(),
    message: Type.String(),
  }),
]);

export function auditRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/audit',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'listAuditEntries',
        summary:
          'Audit entries, newest first (`order=oldest` for the chain order); filter by actor, object and time; page with `cursor`',
        tags: ['audit'],
        querystring: Type.Object(
          {
            actor: Type.Optional(Label()),
            objectType: Type.Optional(Label()),
            objectId: Type.Optional(Reference()),
            since: Type.Optional(DateTime()),
            until: Type.Optional(DateTime()),
            cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
            order: Type.Optional(Type.Union([Type.Literal('newest'), Type.Literal('oldest')], { default: 'newest' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(AuditEntry), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = q.limit ?? 100;
      const order = q.order ?? 'newest';
      const rows = await listAudit(s.database.db, {
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
        ...(q.objectType !== undefined ? { objectType: q.objectType } : {}),
        ...(q.objectId !== undefined ? { objectId: q.objectId } : {}),
        ...(q.since !== undefined ? { since: new Date(q.since) } : {}),
        ...(q.until !== undefined ? { until: new Date(q.until) } : {}),
        ...(q.cursor !== undefined ? (order === 'newest' ? { before: q.cursor } : { after: q.cursor }) : {}),
        order,
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
        operationId: 'verifyAudit',
        summary:
          'Recompute the hash chain and check it against a checkpoint (the one given, else the stored one); names the first edited, deleted or reordered row, or the truncation',
        tags: ['audit'],
        body: Type.Object({ checkpoint: Type.Optional(Checkpoint) }, { additionalProperties: false }),
        response: { 200: Verdict, 400: ErrorSchema },
      },
      // A POST without a body (older clients) checks against the stored checkpoint.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      const given = req.body.checkpoint;
      const checkpoint = given === undefined ? undefined : parseCheckpoint(given);
      if (given !== undefined && checkpoint === undefined) throw new InvalidInput('not a checkpoint', 'checkpoint');
      return s.auditCheckpoints.verify(checkpoint);
    },
  );

  app.get(
    '/api/v1/audit/checkpoint',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'getAuditCheckpoint',
        summary:
          'The latest signed checkpoint of the audit chain (store it outside hoist; `hoist audit verify --checkpoint FILE` checks the chain against it) and the public key that verifies it',
        tags: ['audit'],
        response: {
          200: Type.Object({ checkpoint: Type.Union([Checkpoint, Type.Null()]), publicKey: Type.String() }),
        },
      },
    },
    async () => ({
      checkpoint: s.auditCheckpoints.latest() ?? null,
      publicKey: s.auditCheckpoints.publicKeyPem,
    }),
  );
}
