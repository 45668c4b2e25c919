/** Projects, their applications and members. Members read; owners change; admins create projects. */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { ADMIN, ALL_ENVIRONMENTS, AUTHENTICATED, forEnvironments, PROJECT_READ, projectRole } from '../permissions.ts';
import { Member, Project, ProjectRole as Role } from '../components/index.ts';
import { errors, Name, pageOf, PageQuerySchema } from './schemas.ts';
import { ApplicationName, EnvironmentNames, NameRef, Text, Username } from './fields.ts';

const P = Type.Object({ project: NameRef() });
/** Project-wide changes: an owner limited to some environments may not make them. */
const OWNER = forEnvironments(projectRole('owner'), ALL_ENVIRONMENTS);

export function projectRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/projects',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'listProjects',
        summary: 'Projects the caller can see (paged by name)',
        tags: ['projects'],
        querystring: PageQuerySchema,
        response: { 200: pageOf(Project) },
      },
    },
    async (req) => {
      const id = req.identity!;
      return s.projects.list(id.isAdmin ? undefined : [...new Set(id.memberships.map((m) => m.project))], req.query);
    },
  );
  app.post(
    '/api/v1/projects',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'createProject',
        summary: 'Create a project',
        tags: ['projects'],
        body: Type.Object({ name: Name, description: Type.Optional(Text()) }, { additionalProperties: false }),
        response: { 201: Project, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await s.projects.put(actorOf(req), req.body, 'create')),
  );
  app.get(
    '/api/v1/projects/:project',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getProject',
        summary: 'One project',
        tags: ['projects'],
        params: P,
        response: { 200: Project, ...errors },
      },
    },
    async (req) => s.projects.get(req.params.project),
  );
  app.put(
    '/api/v1/projects/:project',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'updateProject',
        summary: 'Update a project',
        tags: ['projects'],
        params: P,
        body: Type.Object({ description: Type.Optional(Text()) }, { additionalProperties: false }),
        response: { 200: Project, ...errors },
      },
    },
    async (req) => s.projects.put(actorOf(req), { name: req.params.project, ...req.body }, 'upsert'),
  );
  app.delete(
    '/api/v1/projects/:project',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'deleteProject',
        summary: 'Delete a project with its environments',
        tags: ['projects'],
        params: P,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.projects.remove(actorOf(req), req.params.project);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/projects/:project/applications',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listApplications',
        summary: "The project's applications (image names)",
        tags: ['projects'],
        params: P,
        response: { 200: Type.Object({ items: Type.Array(Type.String()) }), ...errors },
      },
    },
    async (req) => ({
      items: await s.projects.applications(req.params.project),
    }),
  );
  app.post(
    '/api/v1/projects/:project/applications',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'createApplication',
        summary: 'Add an application',
        tags: ['projects'],
        params: P,
        body: Type.Object({ name: ApplicationName() }, { additionalProperties: false }),
        response: { 201: Type.Object({ name: Type.String() }), ...errors },
      },
    },
    async (req, reply) => {
      await s.projects.addApplication(actorOf(req), req.params.project, req.body.name);
      return reply.status(201).send({ name: req.body.name });
    },
  );
  app.delete(
    '/api/v1/projects/:project/applications/:app',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'deleteApplication',
        summary: 'Remove an application',
        tags: ['projects'],
        params: Type.Object({ project: NameRef(), app: ApplicationName() }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.projects.removeApplication(actorOf(req), req.params.project, req.params.app);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/projects/:project/members',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listMembers',
        summary: 'Members and their roles',
        tags: ['projects'],
        params: P,
        response: { 200: Type.Object({ items: Type.Array(Member) }), ...errors },
      },
    },
    async (req) => ({
      items: await s.projects.members(req.params.project),
    }),
  );
  app.post(
    '/api/v1/projects/:project/members',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'grantRole',
        summary: 'Grant a role, optionally limited to some environments',
        tags: ['projects'],
        params: P,
        body: Type.Object(
          {
            username: Username(),
            role: Role,
            environments: Type.Optional(Type.Union([EnvironmentNames(), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: Member, ...errors },
      },
    },
    async (req, reply) => {
      const m = { username: req.body.username, role: req.body.role, environments: req.body.environments ?? null };
      await s.projects.grant(actorOf(req), req.params.project, m);
      return reply.status(201).send(m);
    },
  );
  app.delete(
    '/api/v1/projects/:project/members/:username/:role',
    {
      config: { permission: OWNER },
      schema: {
        operationId: 'revokeRole',
        summary: 'Revoke a role',
        tags: ['projects'],
        params: Type.Object({ project: NameRef(), username: Username(), role: Role }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.projects.revoke(actorOf(req), req.params.project, req.params.username, req.params.role);
      return reply.status(204).send(null);
    },
  );
}
