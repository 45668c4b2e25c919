/** Artifacts of an application: developers (and owners) register what CI built; every member reads them. */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { PROJECT_READ, projectRole } from '../permissions.ts';
import { Artifact } from '../components/index.ts';
import { errors } from './schemas.ts';
import { ApplicationName, Digest, NameRef, Reference, StringMap, Url, Value } from './fields.ts';

const PA = Type.Object({ project: NameRef(), app: ApplicationName() });
export function artifactRoutes(app: App, s: Services): void {
  app.post(
    '/api/v1/projects/:project/applications/:app/artifacts',
    {
      config: { permission: projectRole('owner', 'developer') },
      schema: {
        operationId: 'registerArtifact',
        summary:
          'Register an image CI built: hoist reads its digest, platforms, labels and attachments from the registry',
        tags: ['artifacts'],
        params: PA,
        body: Type.Object(
          {
            reference: Reference({ description: 'HOST/REPO:TAG or HOST/REPO@sha256:…' }),
            branch: Type.Optional(Value()),
            commit: Type.Optional(Value()),
            builder: Type.Optional(Value()),
            ciUrl: Type.Optional(Url()),
            labels: Type.Optional(StringMap()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Artifact, 201: Artifact, ...errors },
      },
    },
    async (req, reply) => {
      const { reference, ...build } = req.body;
      const r = await s.artifacts.register(actorOf(req), req.params.project, req.params.app, reference, build);
      return reply.status(r.created ? 201 : 200).send(r.artifact);
    },
  );
  app.get(
    '/api/v1/projects/:project/applications/:app/artifacts',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listArtifacts',
        summary: 'Artifacts of an application, newest first',
        tags: ['artifacts'],
        params: PA,
        querystring: Type.Object(
          {
            environment: Type.Optional(NameRef()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Artifact) }), ...errors },
      },
    },
    async (req) => ({
      items: await s.artifacts.list(req.params.project, req.params.app, req.query.environment, req.query.limit),
    }),
  );
  app.get(
    '/api/v1/projects/:project/applications/:app/artifacts/:digest',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getArtifact',
        summary: 'One artifact and the environments it is in',
        tags: ['artifacts'],
        params: Type.Object({ project: NameRef(), app: ApplicationName(), digest: Digest }),
        response: { 200: Artifact, ...errors },
      },
    },
    async (req) => s.artifacts.get(req.params.project, req.params.app, req.params.digest),
  );
}
