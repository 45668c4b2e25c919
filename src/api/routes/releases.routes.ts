/**
 * Releases: developers (and promoters, owners) make them and ask to promote them; members read them. A release's
 * promotion request is a promotion request: it is approved, rejected and cancelled through the promotions routes.
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { envBody, forEnvironments, PROJECT_READ, projectRole } from '../permissions.ts';
import { Promotion, Release } from '../components/index.ts';
import { TAG_PATTERN } from '../../oci/reference.ts';
import { ApplicationName, Cursor, EnvironmentNames, NameRef, Text } from './fields.ts';
import { errors, Sha256Digest } from './schemas.ts';

/** Release names look like tags (`shop-1.4`). */
const ReleaseName = Type.String({
  pattern: TAG_PATTERN,
  description: 'up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
});
const P = Type.Object({ project: NameRef() });
const PN = Type.Object({ project: NameRef(), name: ReleaseName });

const ReleaseBody = Type.Object(
  {
    name: ReleaseName,
    comment: Type.Optional(Text()),
    applications: Type.Optional(
      Type.Array(
        Type.Object({ application: ApplicationName(), digest: Sha256Digest }, { additionalProperties: false }),
        {
          minItems: 1,
          maxItems: 100,
          description: 'the (application, digest) pairs; or `from`',
        },
      ),
    ),
    from: Type.Optional(NameRef({ description: 'take what this environment holds now, one image per application' })),
  },
  { additionalProperties: false },
);

const ReleasePromotionBody = Type.Object(
  {
    from: Type.Optional(
      NameRef({ description: 'where the images are now; default: the environment it was made from' }),
    ),
    to: EnvironmentNames({ minItems: 1, maxItems: 20 }),
    comment: Type.Optional(Text()),
    overrideWindow: Type.Optional(
      Type.Boolean({ description: "admins only: promote outside the target environment's promotion windows" }),
    ),
  },
  { additionalProperties: false },
);

const REQUEST = projectRole('owner', 'promoter', 'developer');

export function releaseRoutes(app: App, s: Services): void {
  app.post(
    '/api/v1/projects/:project/releases',
    {
      config: { permission: REQUEST },
      schema: {
        operationId: 'createRelease',
        summary: 'Name a set of (application, digest) pairs, given or taken from what an environment holds now',
        tags: ['releases'],
        params: P,
        body: ReleaseBody,
        response: { 201: Release, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await s.releases.create(actorOf(req), req.params.project, req.body)),
  );
  app.get(
    '/api/v1/projects/:project/releases',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listReleases',
        summary: 'Releases of a project, newest first',
        tags: ['releases'],
        params: P,
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), cursor: Type.Optional(Cursor()) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(Release), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errors,
        },
      },
    },
    async (req) => s.releases.list(req.params.project, req.query),
  );
  app.get(
    '/api/v1/projects/:project/releases/:name',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getRelease',
        summary: 'One release, with its promotion requests',
        tags: ['releases'],
        params: PN,
        response: { 200: Release, ...errors },
      },
    },
    async (req) => s.releases.get(req.params.project, req.params.name),
  );
  app.post(
    '/api/v1/projects/:project/releases/:name/promotions',
    {
      config: { permission: forEnvironments(REQUEST, envBody('to')) },
      schema: {
        operationId: 'promoteRelease',
        summary:
          'Ask to promote every application of a release together: one request, each target decided on the whole set (every application’s policy must allow it), approved once, carried out all or none',
        description:
          'The answer is a promotion request (with `release`); approve, reject or cancel it through the promotions routes.',
        tags: ['releases'],
        params: PN,
        body: ReleasePromotionBody,
        response: { 201: Promotion, ...errors },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(
          await s.releases.promote(
            { ...actorOf(req), isAdmin: req.identity?.isAdmin ?? false },
            req.params.project,
            req.params.name,
            req.body,
          ),
        ),
  );
}
