/** Registries: anyone signed in may read them (never their secrets); admins change them and test connections. */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { ADMIN, AUTHENTICATED } from '../permissions.ts';
import { ConnectionReport, Registry } from '../components/index.ts';
import { errors, Name, pageOf, PageQuerySchema } from './schemas.ts';
import { Credential, Label, NameRef, Url } from './fields.ts';

const registryFields = {
  url: Url({ minLength: 1, description: 'host[:port] or http(s)://host[:port]' }),
  insecure: Type.Optional(Type.Boolean()),
  username: Type.Optional(Type.Union([Label(), Type.Null()])),
  password: Type.Optional(
    Type.Union([Credential(), Type.Null()], {
      description: 'password or token; stored encrypted, never returned; null removes it',
    }),
  ),
  pollBudget: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'requests per second the poller may send (default 10)' }),
  ),
};
const RegistryBody = Type.Object(registryFields, { additionalProperties: false });
const NewRegistryBody = Type.Object({ name: Name, ...registryFields }, { additionalProperties: false });
const params = Type.Object({ name: NameRef() });

export function registryRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/registries',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'listRegistries',
        summary: 'List registries (paged by name)',
        tags: ['registries'],
        querystring: PageQuerySchema,
        response: { 200: pageOf(Registry) },
      },
    },
    async (req) => s.registries.list(req.query),
  );
  app.post(
    '/api/v1/registries',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'createRegistry',
        summary: 'Add a registry',
        tags: ['registries'],
        body: NewRegistryBody,
        response: { 201: Registry, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await s.registries.put(actorOf(req), req.body, 'create')),
  );
  app.get(
    '/api/v1/registries/:name',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'getRegistry',
        summary: 'One registry',
        tags: ['registries'],
        params,
        response: { 200: Registry, ...errors },
      },
    },
    async (req) => s.registries.get(req.params.name),
  );
  app.put(
    '/api/v1/registries/:name',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'putRegistry',
        summary: 'Create or update a registry',
        tags: ['registries'],
        params,
        body: RegistryBody,
        response: { 200: Registry, ...errors },
      },
    },
    async (req) => s.registries.put(actorOf(req), { name: req.params.name, ...req.body }, 'upsert'),
  );
  app.delete(
    '/api/v1/registries/:name',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'deleteRegistry',
        summary: 'Remove a registry no environment uses',
        tags: ['registries'],
        params,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.registries.remove(actorOf(req), req.params.name);
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/api/v1/registries/:name/test',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'testRegistry',
        summary: 'Test the connection: reachable, credentials accepted, referrers API present',
        tags: ['registries'],
        params,
        response: {
          200: ConnectionReport,
          ...errors,
        },
      },
    },
    async (req) => s.registries.testConnection(req.params.name),
  );
}
