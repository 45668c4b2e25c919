/** A project's outgoing webhooks and their deliveries (webhook posts and approval e-mails). */
import { Type } from '@fastify/type-provider-typebox';
import { NOTIFICATION_EVENTS, type NotificationEvent } from '../../service/outbox.ts';
import { component } from './component.ts';

export const NotificationEventName = component(
  'NotificationEvent',
  Type.Unsafe<NotificationEvent>({ type: 'string', enum: [...NOTIFICATION_EVENTS] }),
);

export const Webhook = component(
  'Webhook',
  Type.Object({
    id: Type.String(),
    url: Type.String(),
    events: Type.Union([Type.Array(NotificationEventName), Type.Null()]),
    createdBy: Type.String(),
    createdAt: Type.String(),
  }),
);

export const Delivery = component(
  'Delivery',
  Type.Object({
    id: Type.String(),
    kind: Type.Union([Type.Literal('webhook'), Type.Literal('email')]),
    event: Type.String(),
    state: Type.Union([
      Type.Literal('PENDING'),
      Type.Literal('SENDING'),
      Type.Literal('DELIVERED'),
      Type.Literal('FAILED'),
    ]),
    attempts: Type.Integer(),
    lastStatus: Type.Union([Type.Integer(), Type.Null()]),
    lastError: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String(),
    deliveredAt: Type.Union([Type.String(), Type.Null()]),
    nextAttemptAt: Type.Union([Type.String(), Type.Null()]),
  }),
);
