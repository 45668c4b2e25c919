/** The project board: application × environment cells (what each environment holds, and what waits for it). */
import { Type, type TSchema } from '@fastify/type-provider-typebox';
import { component } from './component.ts';
import { PromotionState } from './promotions.ts';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Time = Type.String({ format: 'date-time' });

export const BoardCell = component(
  'BoardCell',
  Type.Object({
    environment: Type.String(),
    current: Nullable(
      Type.Object({
        digest: Type.String(),
        tag: Nullable(Type.String()),
        since: Time,
        by: Type.String({ description: 'who requested the promotion that brought it (or registered it here)' }),
        request: Nullable(Type.String({ description: 'that request; null when it was registered here' })),
        release: Type.Optional(Type.String({ description: 'the release that request promoted, if it did' })),
        quarantine: Nullable(Type.Object({ reason: Type.String(), by: Type.String(), at: Time })),
      }),
    ),
    binding: Nullable(
      Type.Object({
        mode: Type.Union([Type.Literal('track-latest'), Type.Literal('pin')]),
        pinnedDigest: Nullable(Type.String()),
        updatedBy: Type.String(),
        updatedAt: Time,
      }),
    ),
    soak: Nullable(
      Type.Object(
        { until: Time, soaking: Type.Boolean() },
        { description: 'the held build may leave once it has soaked; null: no soak time or nothing held' },
      ),
    ),
    window: Type.Object(
      {
        open: Type.Boolean(),
        opensAt: Nullable(Time),
        timeZone: Nullable(Type.String({ description: 'the IANA time zone of the window that opens at opensAt' })),
      },
      { description: 'whether promotions may enter now, and when the next window opens (and in which zone) if not' },
    ),
    pending: Type.Array(
      Type.Object({
        request: Type.String(),
        state: PromotionState,
        digest: Type.String(),
        tag: Nullable(Type.String()),
        requestedBy: Type.String(),
        requestedAt: Time,
        approvals: Nullable(Type.Object({ have: Type.Integer(), need: Type.Integer() })),
        release: Type.Optional(Type.String({ description: 'the release the request promotes, if it does' })),
      }),
      { description: 'requests with an unfinished target here, oldest first' },
    ),
    newerUpstream: Nullable(
      Type.Object(
        {
          environment: Type.String(),
          digest: Type.String(),
          tag: Nullable(Type.String()),
          since: Time,
          soakedAt: Time,
          soaking: Type.Boolean(),
        },
        { description: 'the newest build an upstream environment holds that is newer than the one held here' },
      ),
    ),
  }),
);

export const Board = component(
  'Board',
  Type.Object({
    project: Type.String(),
    at: Time,
    environments: Type.Array(
      Type.Object({
        name: Type.String(),
        position: Type.Integer(),
        protected: Type.Boolean(),
        soakSeconds: Type.Integer(),
        windows: Type.Array(Type.String()),
      }),
    ),
    edges: Type.Array(Type.Object({ from: Type.String(), to: Type.String() })),
    applications: Type.Array(Type.Object({ name: Type.String(), cells: Type.Array(BoardCell) })),
  }),
);
