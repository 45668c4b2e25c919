/** Artifacts of an application: developers (and owners) register what CI built; every member reads them. */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { PROJECT_READ, projectRole } from '../permissions.ts';
import { errors } from './schemas.ts';

const PA = Type.Object({ project: Type.String(), app: Type.String() });
const Artifact = Type.Object({
  application: Type.String(),
  digest: Type.String(),
  registry: Type.String(),
  repository: Type.String(),
  tag: Type.Union([Type.String(), Type.Null()], { description: 'the tag it was first seen (or registered) with' }),
  tags: Type.Array(Type.String(), { description: 'every tag it has been seen with, oldest first' }),
  mediaType: Type.String(),
  size: Type.Integer(),
  labels: Type.Record(Type.String(), Type.String()),
  annotations: Type.Record(Type.String(), Type.String()),
  created: Type.Union([Type.String(), Type.Null()]),
  platforms: Type.Array(Type.String()),
  referrers: Type.Array(
    Type.Object({
      digest: Type.String(),
      mediaType: Type.String(),
      artifactType: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  scan: Type.Union(
    [
      Type.Object({
        critical: Type.Integer(),
        high: Type.Integer(),
        medium: Type.Integer(),
        low: Type.Integer(),
        scanner: Type.Optional(Type.String()),
        digest: Type.String({ description: 'the referrer the report came from' }),
      }),
      Type.Null(),
    ],
    {
      description:
        'counts per severity from the attached vulnerability report (Trivy, Grype, SARIF, CycloneDX; also in-toto/DSSE-wrapped)',
    },
  ),
  sbom: Type.Union(
    [
      Type.Object({
        licenses: Type.Array(Type.String()),
        components: Type.Array(Type.String()),
        format: Type.String(),
        digest: Type.String(),
      }),
      Type.Null(),
    ],
    { description: 'licenses and components from the attached SBOM (SPDX, CycloneDX)' },
  ),
  quarantine: Type.Union([Type.Object({ reason: Type.String(), by: Type.String(), at: Type.String() }), Type.Null()]),
  build: Type.Object({
    branch: Type.Optional(Type.String()),
    commit: Type.Optional(Type.String()),
    builder: Type.Optional(Type.String()),
    ciUrl: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  }),
  registeredBy: Type.String(),
  registeredAt: Type.String(),
  environments: Type.Array(
    Type.Object({ environment: Type.String(), tag: Type.Union([Type.String(), Type.Null()]), since: Type.String() }),
  ),
});

export function artifactRoutes(app: App, s: Services): void {
  app.post(
    '/api/v1/projects/:project/applications/:app/artifacts',
    {
      config: { permission: projectRole('owner', 'developer') },
      schema: {
        summary:
          'Register an image CI built: hoist reads its digest, platforms, labels and attachments from the registry',
        tags: ['artifacts'],
        params: PA,
        body: Type.Object(
          {
            reference: Type.String({ maxLength: 512, description: 'HOST/REPO:TAG or HOST/REPO@sha256:…' }),
            branch: Type.Optional(Type.String({ maxLength: 256 })),
            commit: Type.Optional(Type.String({ maxLength: 256 })),
            builder: Type.Optional(Type.String({ maxLength: 256 })),
            ciUrl: Type.Optional(Type.String({ maxLength: 2048 })),
            labels: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 1024 }))),
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
        summary: 'Artifacts of an application, newest first',
        tags: ['artifacts'],
        params: PA,
        querystring: Type.Object(
          {
            environment: Type.Optional(Type.String()),
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
        summary: 'One artifact and the environments it is in',
        tags: ['artifacts'],
        params: Type.Object({ project: Type.String(), app: Type.String(), digest: Type.String() }),
        response: { 200: Artifact, ...errors },
      },
    },
    async (req) => s.artifacts.get(req.params.project, req.params.app, req.params.digest),
  );
}
