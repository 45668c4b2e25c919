/**
 * An environment's Git target (GitOps write-back): members read it (never its secret), owners of the environment set
 * and remove it; a protected environment's only an admin (checked by the service, as for its location).
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { envParam, forEnvironments, PROJECT_READ, projectRole } from '../permissions.ts';
import { component } from '../components/component.ts';
import { errors } from './schemas.ts';
import { Credential, LIMITS, NameRef, Repository, Text, Url, Username } from './fields.ts';

const Edit = Type.Union([Type.Literal('kustomize'), Type.Literal('helm'), Type.Literal('manifests')], {
  description:
    'kustomize: the images: entry named image gets digest (and newName); helm: the dotted key (default image.digest); manifests: every image: field naming the image becomes image@digest',
});
const Mode = Type.Union([Type.Literal('push'), Type.Literal('branch')], {
  description: 'push: commit to the branch; branch: push a new branch per promotion (hoist/<env>/<app>-<request>)',
});

const GitTargetBody = Type.Object(
  {
    url: Url({ description: 'file:///path (admins only), http(s)://host/repo.git or ssh://user@host/repo.git' }),
    branch: Type.String({
      maxLength: 200,
      description: 'the branch to update (mode push) or start from (mode branch)',
    }),
    path: Type.String({
      maxLength: 500,
      description: 'a file, or for manifests a directory, relative to the repository root; {app} is the application',
    }),
    edit: Edit,
    key: Type.Optional(
      Type.Union([Type.String({ maxLength: LIMITS.label }), Type.Null()], { description: 'edit helm: the dotted key' }),
    ),
    image: Type.Optional(
      Type.Union([Repository(), Type.Null()], {
        description: 'the image name as the files spell it; default: the environment’s registry/repository',
      }),
    ),
    newName: Type.Optional(
      Type.Union([Repository(), Type.Null()], { description: 'edit kustomize: the newName to write' }),
    ),
    mode: Type.Optional(Mode),
    username: Type.Optional(Type.Union([Username(), Type.Null()])),
    secret: Type.Optional(
      Type.Union([Credential(), Type.Null()], {
        description: 'a token (http/https) or SSH private key; sealed, never returned; null removes it',
      }),
    ),
    knownHosts: Type.Optional(Type.Union([Text(), Type.Null()], { description: 'ssh: known_hosts lines' })),
  },
  { additionalProperties: false },
);

const GitTarget = component(
  'GitTarget',
  Type.Object({
    url: Type.String(),
    branch: Type.String(),
    path: Type.String(),
    edit: Edit,
    key: Type.Union([Type.String(), Type.Null()]),
    image: Type.Union([Type.String(), Type.Null()]),
    newName: Type.Union([Type.String(), Type.Null()]),
    mode: Mode,
    username: Type.Union([Type.String(), Type.Null()]),
    hasSecret: Type.Boolean(),
    hasKnownHosts: Type.Boolean(),
    updatedBy: Type.String(),
    updatedAt: Type.String({ format: 'date-time' }),
  }),
);

const PE = Type.Object({ project: NameRef(), env: NameRef() });
const OWNER_OF_ENV = forEnvironments(projectRole('owner'), envParam());
const PATH = '/api/v1/projects/:project/environments/:env/git-target';

export function gitTargetRoutes(app: App, s: Services): void {
  app.get(
    PATH,
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getGitTarget',
        summary: 'The environment’s Git target (GitOps write-back)',
        tags: ['environments'],
        params: PE,
        response: { 200: GitTarget, ...errors },
      },
    },
    async (req) => s.gitTargets.get(req.params.project, req.params.env),
  );
  app.put(
    PATH,
    {
      config: { permission: OWNER_OF_ENV },
      schema: {
        operationId: 'putGitTarget',
        summary: 'Set the environment’s Git target: promoted digests are committed there',
        tags: ['environments'],
        params: PE,
        body: GitTargetBody,
        response: { 200: GitTarget, ...errors },
      },
    },
    async (req) => s.gitTargets.set(actorOf(req), req.params.project, req.params.env, req.body),
  );
  app.delete(
    PATH,
    {
      config: { permission: OWNER_OF_ENV },
      schema: {
        operationId: 'deleteGitTarget',
        summary: 'Remove the environment’s Git target',
        tags: ['environments'],
        params: PE,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.gitTargets.unset(actorOf(req), req.params.project, req.params.env);
      return reply.status(204).send(null);
    },
  );
}
