/**
 * `GET /api/v1/events/stream`: server-sent events of promotion changes and copy progress for the caller's projects
 * (src/service/live-events.service.ts). The route only translates: the caller becomes a viewer, `Last-Event-ID`
 * (the header a browser's EventSource sends when it reconnects, or `?lastEventId=` for the first connection) becomes
 * where to resume, and the response is taken over from Fastify to write the stream.
 */
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { Identity } from '../../service/identity.ts';
import type { Viewer } from '../../service/live-events.service.ts';
import type { App, Services } from '../context.ts';
import { AUTHENTICATED } from '../permissions.ts';
import { credentialsOf } from '../session.ts';
import { sseSink } from '../sse.ts';
import { ErrorSchema } from './schemas.ts';

const EventId = Type.String({ pattern: '^[0-9]{1,15}$', description: 'the id of the last event received' });

const viewerOf = (identity: Identity): Viewer => ({
  userId: identity.userId,
  isAdmin: identity.isAdmin,
  projects: [...new Set(identity.memberships.map((m) => m.project))],
});

const STREAM_DESCRIPTION = `Server-sent events (text/event-stream) about the promotions of the caller's projects (every project for an admin).
Durable events carry an id and data {project, application, requestId, digest, from, at, ...}: promotion.requested
(states: {environment: state}, actor, comment), promotion.approved and promotion.rejected (environments, actor,
comment), promotion.state (states, before, reasons: any state change, whoever made it: QUEUED, PROMOTING, PROMOTED,
FAILED, STALE, CANCELED, ...). copy.progress has no id and is never replayed (data {project, application, requestId,
targetId, environment, bytes, total, done}, at most 4 per second per target, the last with done). reset: events were
missed, reload everything. A reconnecting client sends Last-Event-ID (or ?lastEventId=) and gets what it missed, then
live events. A comment every 15 s keeps the connection open. At most 5 streams per user (429 beyond).`;

/** The caller's credential, to re-check it while the stream is open (a revoked token ends the stream). */
function refresher(services: Services, req: FastifyRequest): () => Promise<Viewer | undefined> {
  const credential = credentialsOf(req);
  return async () => {
    const identity = credential ? await services.accounts.identify(credential) : undefined;
    return identity ? viewerOf(identity) : undefined;
  };
}

export function eventRoutes(app: App, services: Services): void {
  app.get(
    '/api/v1/events/stream',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'streamEvents',
        summary: 'Live promotion events and copy progress (server-sent events)',
        description: STREAM_DESCRIPTION,
        tags: ['events'],
        headers: Type.Object({ 'last-event-id': Type.Optional(EventId) }),
        querystring: Type.Object({ lastEventId: Type.Optional(EventId) }, { additionalProperties: false }),
        response: {
          200: {
            description: 'an endless stream of server-sent events',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          401: ErrorSchema,
          429: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const given = req.headers['last-event-id'] ?? req.query.lastEventId;
      const close = await services.live.open(
        viewerOf(req.identity!),
        { ...(given !== undefined ? { lastEventId: Number(given) } : {}), refresh: refresher(services, req) },
        () => {
          reply.hijack();
          const headers = Object.fromEntries(
            Object.entries(reply.getHeaders()).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
          );
          return sseSink(reply.raw, headers);
        },
      );
      reply.raw.once('close', close);
      if (reply.raw.destroyed) close();
    },
  );
}
