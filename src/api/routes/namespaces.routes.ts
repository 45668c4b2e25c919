/**
 * Repository namespaces of projects: an admin grants (and revokes) a registry + path prefix; members read their
 * project's grants. Overlapping grants between projects are refused (409).
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { ADMIN, PROJECT_READ } from '../permissions.ts';
import { Namespace } from '../components/index.ts';
import { errors } from './schemas.ts';
import { NameRef, Repository } from './fields.ts';

const Grant = Type.Object(
  {
    registry: NameRef({ description: 'registry name' }),
    prefix: Repository({ description: 'repository path prefix, e.g. shop/ or team/shop/' }),
  },
  { additionalProperties: false },
);
const P = Type.Object({ project: NameRef() });

export function namespaceRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/namespaces',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'listAllNamespaces',
        summary: 'Every namespace grant, by project',
        tags: ['projects'],
        response: { 200: Type.Object({ items: Type.Array(Namespace) }), ...errors },
      },
    },
    async () => ({ items: await s.namespaces.list() }),
  );
  app.get(
    '/api/v1/projects/:project/namespaces',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listNamespaces',
        summary: 'The repository namespaces the project owns (its environments and artifacts name nothing else)',
        tags: ['projects'],
        params: P,
        response: { 200: Type.Object({ items: Type.Array(Namespace) }), ...errors },
      },
    },
    async (req) => {
      await s.projects.get(req.params.project);
      return { items: await s.namespaces.list([req.params.project]) };
    },
  );
  app.put(
    '/api/v1/projects/:project/namespaces',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'grantNamespace',
        summary: 'Grant the project a registry and repository prefix (refused when another project has an overlap)',
        tags: ['projects'],
        params: P,
        body: Grant,
        response: { 200: Namespace, ...errors },
      },
    },
    async (req) => s.namespaces.grant(actorOf(req), req.params.project, req.body.registry, req.body.prefix),
  );
  app.delete(
    '/api/v1/projects/:project/namespaces',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'revokeNamespace',
        summary: "Revoke a grant (refused while the project's environments use it)",
        tags: ['projects'],
        params: P,
        querystring: Grant,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.namespaces.revoke(actorOf(req), req.params.project, req.query.registry, req.query.prefix);
      return reply.status(204).send(null);
    },
  );
}
