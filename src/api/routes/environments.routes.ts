/** A project's environments and its pipeline (the allowed promotion edges). Members read; owners change. */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { ALL_ENVIRONMENTS, envParam, forEnvironments, PROJECT_READ, projectRole } from '../permissions.ts';
import { Edge, Environment as Env, Window } from '../components/index.ts';
import { errors } from './schemas.ts';
import { ENVIRONMENT_KINDS, MAX_SOAK_SECONDS } from '../../service/environment-shape.ts';
import { ITEMS, NameRef, Repository, TagTemplate } from './fields.ts';

const EnvBody = Type.Object(
  {
    position: Type.Optional(Type.Integer({ minimum: 0 })),
    kind: Type.Union(ENVIRONMENT_KINDS.map((k) => Type.Literal(k))),
    registry: NameRef({ description: 'registry name' }),
    repository: Repository({ description: 'repository template, e.g. prod/{app}' }),
    tag: Type.Optional(
      Type.Union([TagTemplate(), Type.Null()], { description: 'kind tag: the stage tag, e.g. prod or {tag}-prod' }),
    ),
    immutableTags: Type.Optional(Type.Boolean()),
    allowTagMove: Type.Optional(Type.Boolean()),
    protected: Type.Optional(Type.Boolean()),
    soakSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_SOAK_SECONDS,
        description: 'an artifact may leave this environment only after it has been here this long',
      }),
    ),
    windows: Type.Optional(
      Type.Union([Type.Array(Window, { maxItems: 20 }), Type.Null()], {
        description: 'when promotions may enter; none: always',
      }),
    ),
  },
  { additionalProperties: false },
);
const P = Type.Object({ project: NameRef() });
const PE = Type.Object({ project: NameRef(), env: NameRef() });
const OWNER = projectRole('owner');
const OWNER_OF_ENV = forEnvironments(OWNER, envParam());

export function environmentRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/projects/:project/environments',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listEnvironments',
        summary: 'Environments in pipeline order',
        tags: ['environments'],
        params: P,
        response: { 200: Type.Object({ items: Type.Array(Env) }), ...errors },
      },
    },
    async (req) => ({
      items: await s.environments.list(req.params.project),
    }),
  );
  app.get(
    '/api/v1/projects/:project/environments/:env',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getEnvironment',
        summary: 'One environment',
        tags: ['environments'],
        params: PE,
        response: { 200: Env, ...errors },
      },
    },
    async (req) => s.environments.get(req.params.project, req.params.env),
  );
  app.put(
    '/api/v1/projects/:project/environments/:env',
    {
      config: { permission: OWNER_OF_ENV },
      schema: {
        operationId: 'putEnvironment',
        summary: 'Create or update an environment',
        tags: ['environments'],
        params: PE,
        body: EnvBody,
        response: { 200: Env, ...errors },
      },
    },
    async (req) =>
      s.environments.put(actorOf(req), req.params.project, { name: req.params.env, ...req.body }, 'upsert'),
  );
  app.delete(
    '/api/v1/projects/:project/environments/:env',
    {
      config: { permission: OWNER_OF_ENV },
      schema: {
        operationId: 'deleteEnvironment',
        summary: 'Delete an environment',
        tags: ['environments'],
        params: PE,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.environments.remove(actorOf(req), req.params.project, req.params.env);
      return reply.status(204).send(null);
    },
  );
  app.get(
    '/api/v1/projects/:project/pipeline',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getPipeline',
        summary: 'Allowed promotion edges',
        tags: ['environments'],
        params: P,
        response: { 200: Type.Object({ edges: Type.Array(Edge) }), ...errors },
      },
    },
    async (req) => ({
      edges: await s.environments.pipeline(req.params.project),
    }),
  );
  app.put(
    '/api/v1/projects/:project/pipeline',
    {
      config: { permission: forEnvironments(OWNER, ALL_ENVIRONMENTS) },
      schema: {
        operationId: 'setPipeline',
        summary: 'Replace the promotion edges',
        tags: ['environments'],
        params: P,
        body: Type.Object({ edges: Type.Array(Edge, { maxItems: ITEMS.edges }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ edges: Type.Array(Edge) }), ...errors },
      },
    },
    async (req) => ({ edges: await s.environments.setPipeline(actorOf(req), req.params.project, req.body.edges) }),
  );
}
