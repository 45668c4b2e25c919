/**
 * Promotion requests: developers (and promoters, owners) ask; promoters decide per environment; requesters cancel.
 * Who may decide on which environment, and separation of duties, are checked by the service (with the reason).
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { envBody, forEnvironments, PROJECT_READ, projectRole } from '../permissions.ts';
import { errors, Sha256Digest, Tag } from './schemas.ts';

const State = Type.Union([
  Type.Literal('AWAITING_APPROVAL'),
  Type.Literal('QUEUED'),
  Type.Literal('PROMOTING'),
  Type.Literal('PROMOTED'),
  Type.Literal('REJECTED'),
  Type.Literal('CANCELED'),
  Type.Literal('STALE'),
  Type.Literal('FAILED'),
]);
const Promotion = Type.Object({
  id: Type.String(),
  project: Type.String(),
  application: Type.String(),
  digest: Type.String(),
  from: Type.String(),
  requestedBy: Type.String(),
  comment: Type.String(),
  createdAt: Type.String(),
  targets: Type.Array(
    Type.Object({
      environment: Type.String(),
      state: State,
      policy: Type.Union([Type.Object({ name: Type.String(), version: Type.Integer() }), Type.Null()]),
      approvalsNeeded: Type.Integer(),
      approvals: Type.Array(
        Type.Object({ username: Type.String(), decision: Type.String(), comment: Type.String(), at: Type.String() }),
      ),
      reasons: Type.Array(Type.String()),
      verdict: Type.Unknown(),
    }),
  ),
});
const P = Type.Object({ project: Type.String() });
const PI = Type.Object({ project: Type.String(), id: Type.String() });
const Decision = Type.Object(
  {
    comment: Type.Optional(Type.String({ maxLength: 2000 })),
    environments: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  },
  { additionalProperties: false },
);

export function promotionRoutes(app: App, s: Services): void {
  app.post(
    '/api/v1/projects/:project/applications/:app/promotions',
    {
      config: { permission: forEnvironments(projectRole('owner', 'promoter', 'developer'), envBody('to')) },
      schema: {
        summary:
          'Ask to promote an artifact from one environment to others; each target answers allowed, denied (with reasons) or awaiting approval',
        tags: ['promotions'],
        params: Type.Object({ project: Type.String(), app: Type.String() }),
        body: Type.Object(
          {
            digest: Type.Optional(Sha256Digest),
            tag: Type.Optional(Tag),
            from: Type.String(),
            to: Type.Array(Type.String(), { minItems: 1, maxItems: 20 }),
            comment: Type.Optional(Type.String({ maxLength: 2000 })),
            overrideWindow: Type.Optional(
              Type.Boolean({
                description: "admins only: promote outside the target environment's promotion windows (audited)",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Promotion, ...errors },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(
          await s.promotions.request(
            { ...actorOf(req), isAdmin: req.identity?.isAdmin ?? false },
            req.params.project,
            req.params.app,
            req.body,
          ),
        ),
  );
  app.get(
    '/api/v1/projects/:project/promotions',
    {
      config: { permission: PROJECT_READ },
      schema: {
        summary: 'Promotion requests, newest first',
        tags: ['promotions'],
        params: P,
        querystring: Type.Object(
          {
            state: Type.Optional(State),
            environment: Type.Optional(Type.String()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Promotion) }), ...errors },
      },
    },
    async (req) => ({ items: await s.promotions.list(req.params.project, req.query) }),
  );
  app.get(
    '/api/v1/projects/:project/promotions/:id',
    {
      config: { permission: PROJECT_READ },
      schema: {
        summary: 'One promotion request',
        tags: ['promotions'],
        params: PI,
        response: { 200: Promotion, ...errors },
      },
    },
    async (req) => s.promotions.get(req.params.project, req.params.id),
  );
  for (const decision of ['approve', 'reject'] as const) {
    app.post(
      `/api/v1/projects/:project/promotions/:id/${decision}`,
      {
        config: { permission: PROJECT_READ },
        schema: {
          summary: `${decision === 'approve' ? 'Approve' : 'Reject'} the targets awaiting approval (promoters of those environments)`,
          tags: ['promotions'],
          params: PI,
          body: Decision,
          response: { 200: Promotion, ...errors },
        },
      },
      async (req) =>
        s.promotions.decide(
          req.identity!,
          req.params.id,
          req.params.project,
          decision,
          req.body.comment ?? '',
          req.body.environments,
        ),
    );
  }
  app.post(
    '/api/v1/projects/:project/promotions/:id/cancel',
    {
      config: { permission: PROJECT_READ },
      schema: {
        summary: 'Cancel a request (its requester)',
        tags: ['promotions'],
        params: PI,
        response: { 200: Promotion, ...errors },
      },
    },
    async (req) => s.promotions.cancel(req.identity!, req.params.id, req.params.project),
  );
  app.get(
    '/api/v1/projects/:project/environments/:env/deployable',
    {
      config: { permission: PROJECT_READ },
      schema: {
        summary: 'May this digest run in this environment (and be deployed by this person)? For deploy gates',
        tags: ['promotions'],
        params: Type.Object({ project: Type.String(), env: Type.String() }),
        querystring: Type.Object(
          { digest: Sha256Digest, deployer: Type.Optional(Type.String()) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ allowed: Type.Boolean(), reason: Type.String(), promotion: Type.Optional(Type.String()) }),
          ...errors,
        },
      },
    },
    async (req) => s.promotions.deployable(req.params.project, req.params.env, req.query.digest, req.query.deployer),
  );
  app.get(
    '/api/v1/projects/:project/history',
    {
      config: { permission: PROJECT_READ },
      schema: {
        summary:
          'What was promoted (or refused) when, by whom, from where to where, with approvals, policy and bytes copied',
        tags: ['promotions'],
        params: P,
        querystring: Type.Object(
          {
            app: Type.Optional(Type.String()),
            env: Type.Optional(Type.String()),
            digest: Type.Optional(Type.String()),
            user: Type.Optional(Type.String()),
            since: Type.Optional(Type.String({ format: 'date-time' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { since, ...rest } = req.query;
      return {
        items: await s.promotions.history(req.params.project, {
          ...rest,
          ...(since !== undefined ? { since: new Date(since) } : {}),
        }),
      };
    },
  );
}
