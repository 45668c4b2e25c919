/** Promotion requests, their targets (one per environment), approvals, history rows and the deploy gate's answer. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';
import { PromotionSchema, RequestReleaseSchema, TargetStateSchema } from '../routes/promotion.schemas.ts';

export const PromotionState = component('PromotionState', TargetStateSchema);

const Decision = Type.Union([Type.Literal('approve'), Type.Literal('reject')]);

/** The request with its targets, each with why it waits or was refused (blockedBy): the promotion core's shape. */
export const Promotion = component('Promotion', PromotionSchema);

export const HistoryEntry = component(
  'HistoryEntry',
  Type.Object({
    at: Type.String(),
    request: Type.String(),
    application: Type.String(),
    from: Type.String(),
    to: Type.String(),
    digest: Type.String(),
    tag: Type.Union([Type.String(), Type.Null()]),
    state: PromotionState,
    requestedBy: Type.String(),
    comment: Type.String(),
    approvals: Type.Array(Type.Object({ username: Type.String(), decision: Decision, at: Type.String() })),
    policy: Type.Union([
      Type.Object({ name: Type.String(), version: Type.Integer(), allowed: Type.Boolean() }),
      Type.Null(),
    ]),
    bytesCopied: Type.Integer(),
    reason: Type.Union([Type.String(), Type.Null()]),
    release: Type.Optional(RequestReleaseSchema),
  }),
);

export const Deployable = component(
  'Deployable',
  Type.Object({ allowed: Type.Boolean(), reason: Type.String(), promotion: Type.Optional(Type.String()) }),
);
