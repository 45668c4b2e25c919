/** Outgoing webhooks of a project and their deliveries. Project owners manage them; secrets are never read back. */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { ALL_ENVIRONMENTS, forEnvironments, projectRole } from '../permissions.ts';
import { errors } from './schemas.ts';
import { NOTIFICATION_EVENTS } from '../../service/outbox.ts';
import { Delivery, Webhook } from '../components/index.ts';
import { Id, Label, NameRef, Secret, Url } from './fields.ts';

/** Webhooks report every environment's events: an owner limited to some environments does not manage them. */
const OWNER = forEnvironments(projectRole('owner'), ALL_ENVIRONMENTS);
const P = Type.Object({ project: NameRef() });
const PI = Type.Object({ project: NameRef(), id: Id() });

export function webhookRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/projects/:project/webhooks',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'listWebhooks',
        summary: "The project's outgoing webhooks",
        tags: ['webhooks'],
        params: P,
        response: { 200: Type.Object({ items: Type.Array(Webhook) }), ...errors },
      },
    },
    async (req) => ({
      items: await s.webhooks.list(req.params.project),
    }),
  );
  app.post(
    '/api/v1/projects/:project/webhooks',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'createWebhook',
        summary:
          'Add a webhook: promotion events are POSTed to the URL, signed with HMAC-SHA256 of the body in X-Hoist-Signature-256',
        description: `Events: ${NOTIFICATION_EVENTS.join(', ')} (all when none are named). Without a secret hoist makes one up and answers it once.`,
        tags: ['webhooks'],
        params: P,
        body: Type.Object(
          {
            url: Url(),
            secret: Type.Optional(Secret()),
            events: Type.Optional(Type.Union([Type.Array(Label(), { maxItems: 20 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Intersect([Webhook, Type.Object({ secret: Type.Optional(Type.String()) })]), ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await s.webhooks.create(actorOf(req), req.params.project, req.body)),
  );
  app.delete(
    '/api/v1/projects/:project/webhooks/:id',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'deleteWebhook',
        summary: 'Remove a webhook',
        tags: ['webhooks'],
        params: PI,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.webhooks.remove(actorOf(req), req.params.project, req.params.id);
      return reply.status(204).send(null);
    },
  );
  app.get(
    '/api/v1/projects/:project/webhooks/:id/deliveries',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'listWebhookDeliveries',
        summary: "A webhook's recent deliveries, newest first (state, attempts, last answer)",
        tags: ['webhooks'],
        params: PI,
        response: { 200: Type.Object({ items: Type.Array(Delivery) }), ...errors },
      },
    },
    async (req) => ({ items: await s.webhooks.deliveries(req.params.project, req.params.id) }),
  );
}
