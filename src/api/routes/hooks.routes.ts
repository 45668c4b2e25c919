/**
 * Events in: registry push notifications (CNCF distribution, Harbor, a generic JSON form), each kind authenticated
 * by the secret configured for the registry; the registries' hook secrets; what arrived and what became of it; and
 * the repositories the poller watches for registries that send no events.
 */
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import {
  parseDistributionEvents,
  parseGenericEvent,
  parseHarborEvent,
  type PushEvent,
} from '../../automation/push-events.ts';
import { InvalidInput } from '../../errors.ts';
import { HOOK_KINDS, type HookKind } from '../../service/intake.service.ts';
import { actorOf, type App, type Services } from '../context.ts';
import { ADMIN, AUTHENTICATED, HOOK, visibleProjects } from '../permissions.ts';
import { PushEvent as PushEventView, Watch } from '../components/index.ts';
import { errors } from './schemas.ts';
import { Cursor, Id, NameRef, Reference, Secret } from './fields.ts';

const EVENT_TYPES = [
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/cloudevents+json',
];
const Received = Type.Object({
  received: Type.Integer(),
  accepted: Type.Integer({ description: 'new events recorded' }),
  duplicates: Type.Integer({ description: 'events seen before (by id), ignored' }),
});
const HookBody = Type.Unknown({ description: 'the event body as the registry sends it' });
const PARSERS: Record<HookKind, (body: unknown) => PushEvent[]> = {
  distribution: parseDistributionEvents,
  harbor: parseHarborEvent,
  generic: parseGenericEvent,
};
const SUMMARIES: Record<HookKind, string> = {
  distribution:
    'CNCF distribution notifications (events v1/v2): push events of manifests; pulls are ignored; duplicates (by event id) too',
  harbor: 'Harbor webhooks: PUSH_ARTIFACT (classic and CloudEvents forms); other types are ignored',
  generic: 'A generic push event: {repository, tag, digest[, id]} or an array of them',
};
/** The registry each hook request was authenticated as (by its secret, before its body was parsed). */
const senders = new WeakMap<FastifyRequest, string>();

export function hookRoutes(app: App, s: Services): void {
  app.addContentTypeParser(EVENT_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (e) {
      done(new InvalidInput(`the body is not JSON: ${(e as Error).message}`, 'body'), undefined);
    }
  });

  for (const kind of HOOK_KINDS) {
    app.post(
      `/api/v1/hooks/${kind}`,
      {
        config: { permission: HOOK },
        // Before the body is read: a caller without the secret learns nothing about what a good body looks like.
        onRequest: async (req) => {
          senders.set(req, await s.intake.authenticate(kind, req.headers.authorization));
        },
        schema: {
          operationId: `receive${kind[0]!.toUpperCase()}${kind.slice(1)}Hook`,
          summary: SUMMARIES[kind],
          description: `Authenticated by the registry's ${kind} hook secret in the Authorization header (Bearer SECRET, or the secret alone); set it with PUT /api/v1/registries/{name}/hooks/${kind}.`,
          tags: ['events'],
          security: [],
          body: HookBody,
          response: { 200: Received, 400: errors[400], 401: errors[401] },
        },
      },
      async (req) => {
        const registryId = senders.get(req);
        if (registryId === undefined) throw new Error('hook route without its authentication hook');
        const events = PARSERS[kind](req.body);
        const r = await s.intake.receive(registryId, kind, events);
        return { received: events.length, ...r };
      },
    );
  }

  app.put(
    '/api/v1/registries/:name/hooks/:kind',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'setHookSecret',
        summary:
          'Set the secret a registry sends with its push events of this kind (hoist makes one up, answered once, when none is given)',
        tags: ['events'],
        params: Type.Object({ name: NameRef(), kind: Type.Union(HOOK_KINDS.map((k) => Type.Literal(k))) }),
        body: Type.Object({ secret: Type.Optional(Secret({ minLength: 16 })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ registry: Type.String(), kind: Type.String(), secret: Type.Optional(Type.String()) }),
          ...errors,
        },
      },
    },
    async (req) => s.intake.setSecret(actorOf(req), req.params.name, req.params.kind, req.body.secret),
  );

  app.get(
    '/api/v1/events',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'listPushEvents',
        summary: 'Push events received, newest first, with what became of each; page with `cursor`',
        tags: ['events'],
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          cursor: Type.Optional(Cursor()),
        }),
        response: {
          200: Type.Object({ items: Type.Array(PushEventView), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
        },
      },
    },
    async (req) => s.intake.list(req.query, visibleProjects(req.identity)),
  );

  app.get(
    '/api/v1/watches',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'listWatches',
        summary: 'Repositories the poller watches: when each was last checked and what it found',
        tags: ['events'],
        response: { 200: Type.Object({ items: Type.Array(Watch) }) },
      },
    },
    async (req) => ({
      items: await s.poller.list(visibleProjects(req.identity)),
    }),
  );
  app.post(
    '/api/v1/watches',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'createWatch',
        summary:
          'Watch a repository of a registry that sends no events: new tags and tags moved to another digest become push events',
        tags: ['events'],
        body: Type.Object(
          {
            repository: Reference({ description: 'REGISTRY/REPOSITORY (registry by name or host)' }),
            intervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Watch, ...errors },
      },
    },
    async (req, reply) =>
      reply.status(201).send(await s.poller.add(actorOf(req), req.body.repository, req.body.intervalSeconds)),
  );
  app.delete(
    '/api/v1/watches/:id',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'deleteWatch',
        summary: 'Stop watching a repository',
        tags: ['events'],
        params: Type.Object({ id: Id() }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.poller.remove(actorOf(req), req.params.id);
      return reply.status(204).send(null);
    },
  );
}
