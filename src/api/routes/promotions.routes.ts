/**
 * Promotion requests: developers (and promoters, owners) ask; promoters decide per environment; requesters cancel.
 * Who may decide on which environment, and separation of duties, are checked by the service (with the reason).
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { envBody, forEnvironments, PROJECT_READ, projectRole } from '../permissions.ts';
import { errors, Sha256Digest, Tag } from './schemas.ts';
import { PromotionPreviewSchema } from './promotion.schemas.ts';
import type { PromotionPlan } from '../../promotion/plan.ts';

const State = StateRef;
const Promotion = PromotionRef;
import {
  Deployable,
  HistoryEntry,
  Promotion as PromotionRef,
  PromotionState as StateRef,
} from '../components/index.ts';
import { ApplicationName, Cursor, DateTime, Digest, EnvironmentNames, Id, NameRef, Text, Username } from './fields.ts';
const P = Type.Object({ project: NameRef() });
const PI = Type.Object({ project: NameRef(), id: Id() });
const Decision = Type.Object(
  {
    comment: Type.Optional(Text()),
    environments: Type.Optional(EnvironmentNames({ minItems: 1 })),
  },
  { additionalProperties: false },
);

/**
 * A retry concerns the environments it may re-queue: those named (the service retries no others), else the request's
 * FAILED targets and those that may fail before the retry holds the request. The caller needs a role that may request
 * promotions to every one of them (an environment-limited role covers its own: name them).
 */
const RETRY = forEnvironments(projectRole('owner', 'promoter', 'developer'), {
  kind: 'lookup',
  what: "the request's FAILED (or unfinished) targets",
  find: async (s, req) => {
    const named = (req.body as { environments?: unknown } | null | undefined)?.environments;
    if (Array.isArray(named)) return named.filter((e): e is string => typeof e === 'string');
    return s.promotions.retryableEnvironments(req.params.project ?? '', req.params.id ?? '');
  },
});
const RetryBody = Type.Object(
  {
    environments: Type.Optional(
      EnvironmentNames({
        minItems: 1,
        maxItems: 20,
        description: 'only these targets; default: every FAILED target of the request',
      }),
    ),
  },
  { additionalProperties: false },
);

const AppParams = Type.Object({ project: NameRef(), app: ApplicationName() });
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Id({ minLength: 1, description: 'one per intended request (the CLI sends one)' })),
});
const PromotionBody = Type.Object(
  {
    digest: Type.Optional(Sha256Digest),
    tag: Type.Optional(Tag),
    from: NameRef(),
    to: EnvironmentNames({ minItems: 1, maxItems: 20 }),
    comment: Type.Optional(Text()),
    overrideWindow: Type.Optional(
      Type.Boolean({
        description: "admins only: promote outside the target environment's promotion windows (audited)",
      }),
    ),
  },
  { additionalProperties: false },
);

const REFUSAL_CODES = {
  invalid: 'INVALID_INPUT',
  'not-found': 'NOT_FOUND',
  conflict: 'CONFLICT',
  forbidden: 'FORBIDDEN',
};

/** The preview's answer: the plan's targets as the API shows them, and the refusal (what a request would get). */
function previewOf(plan: PromotionPlan, from: string) {
  const r = plan.refusal;
  return {
    refusal: r
      ? {
          code: REFUSAL_CODES[r.kind],
          message: r.kind === 'not-found' ? `${r.objectType} "${r.name}" does not exist` : r.message,
          ...(r.kind === 'invalid' ? { field: r.field } : {}),
        }
      : null,
    digest: plan.artifact?.digest ?? null,
    from,
    targets: plan.targets.map((t) => ({
      environment: t.environment.name,
      state: t.state,
      policy: t.policy,
      approvalsNeeded: t.approvalsNeeded,
      reasons: t.reasons,
      verdict: t.verdict,
      blockedBy: t.blockedBy,
    })),
  };
}

export function promotionRoutes(app: App, s: Services): void {
  app.post(
    '/api/v1/projects/:project/applications/:app/promotions',
    {
      config: { permission: forEnvironments(projectRole('owner', 'promoter', 'developer'), envBody('to')) },
      schema: {
        operationId: 'requestPromotion',
        summary:
          'Ask to promote an artifact from one environment to others; each target answers allowed, denied (with reasons) or awaiting approval',
        description:
          'With an `Idempotency-Key` header, a request re-sent by the same caller (after a time-out, or a replica that died) answers the first request with 200 instead of making a second; the same key with a different body is a 409.',
        tags: ['promotions'],
        params: AppParams,
        headers: IdempotencyHeaders,
        body: PromotionBody,
        response: { 200: Promotion, 201: Promotion, ...errors },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      const { replayed, ...view } = await s.promotions.request(
        { ...actorOf(req), isAdmin: req.identity?.isAdmin ?? false },
        req.params.project,
        req.params.app,
        req.body,
        undefined,
        key !== undefined ? { key } : undefined,
      );
      return reply.status(replayed ? 200 : 201).send(view);
    },
  );
  app.post(
    '/api/v1/projects/:project/applications/:app/promotions/preview',
    {
      config: { permission: projectRole('owner', 'promoter', 'developer') },
      schema: {
        operationId: 'previewPromotion',
        summary:
          'The plan for a promotion request without making it: each target with its state and why (blockedBy), or why the request would be refused',
        tags: ['promotions'],
        params: AppParams,
        body: PromotionBody,
        response: { 200: PromotionPreviewSchema, ...errors },
      },
    },
    async (req) =>
      previewOf(
        await s.promotions.preview(
          { ...actorOf(req), isAdmin: req.identity?.isAdmin ?? false },
          req.params.project,
          req.params.app,
          req.body,
        ),
        req.body.from,
      ),
  );
  app.get(
    '/api/v1/projects/:project/promotions',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listPromotions',
        summary: 'Promotion requests, newest first',
        tags: ['promotions'],
        params: P,
        querystring: Type.Object(
          {
            state: Type.Optional(State),
            environment: Type.Optional(NameRef()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            cursor: Type.Optional(Cursor()),
            pendingFor: Type.Optional(
              Type.Literal('me', {
                description: 'only requests with a target the caller may approve now (and has not decided on)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(Promotion), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errors,
        },
      },
    },
    async (req) => {
      const { pendingFor, ...filter } = req.query;
      return s.promotions.list(req.params.project, {
        ...filter,
        ...(pendingFor === 'me' ? { pendingFor: req.identity!.username } : {}),
      });
    },
  );
  app.get(
    '/api/v1/projects/:project/promotions/:id',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getPromotion',
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
          operationId: `${decision}Promotion`,
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
        operationId: 'cancelPromotion',
        summary: 'Cancel a request (its requester)',
        tags: ['promotions'],
        params: PI,
        response: { 200: Promotion, ...errors },
      },
    },
    async (req) => s.promotions.cancel(req.identity!, req.params.id, req.params.project),
  );
  app.post(
    '/api/v1/projects/:project/promotions/:id/retry',
    {
      config: { permission: RETRY },
      schema: {
        operationId: 'retryPromotion',
        summary:
          'Queue the FAILED targets of a request again (those who may request promotions to them); policy, approvals, window and quarantine are checked again',
        description:
          'A target already PROMOTED is never touched. Approvals given stay; a policy that now asks for more sends the target back to wait for them, one that now refuses refuses the retry (409) and nothing changes. Two retries at once re-queue once: the other gets a 409.',
        tags: ['promotions'],
        params: PI,
        body: RetryBody,
        response: { 200: Promotion, ...errors },
      },
      // No body at all is every FAILED target.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) =>
      s.promotions.retry(
        { ...actorOf(req), isAdmin: req.identity?.isAdmin ?? false },
        req.params.project,
        req.params.id,
        req.body.environments,
      ),
  );
  app.get(
    '/api/v1/projects/:project/environments/:env/deployable',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'checkDeployable',
        summary: 'May this digest run in this environment (and be deployed by this person)? For deploy gates',
        tags: ['promotions'],
        params: Type.Object({ project: NameRef(), env: NameRef() }),
        querystring: Type.Object(
          { digest: Sha256Digest, deployer: Type.Optional(Username()) },
          { additionalProperties: false },
        ),
        response: { 200: Deployable, ...errors },
      },
    },
    async (req) => s.promotions.deployable(req.params.project, req.params.env, req.query.digest, req.query.deployer),
  );
  app.get(
    '/api/v1/projects/:project/history',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listHistory',
        summary:
          'What was promoted (or refused) when, by whom, from where to where, with approvals, policy and bytes copied',
        tags: ['promotions'],
        params: P,
        querystring: Type.Object(
          {
            app: Type.Optional(ApplicationName()),
            env: Type.Optional(NameRef()),
            digest: Type.Optional(Digest),
            user: Type.Optional(Username()),
            state: Type.Optional(
              Type.Union(
                ['PROMOTED', 'REJECTED', 'FAILED', 'CANCELED', 'STALE'].map((v) => Type.Literal(v)),
                {
                  description: 'one finished state',
                },
              ),
            ),
            since: Type.Optional(DateTime()),
            until: Type.Optional(DateTime({ description: 'before this instant' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
            cursor: Type.Optional(Cursor()),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(HistoryEntry), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errors,
        },
      },
    },
    async (req) => {
      const { since, until, ...rest } = req.query;
      return s.promotions.history(req.params.project, {
        ...rest,
        ...(since !== undefined ? { since: new Date(since) } : {}),
        ...(until !== undefined ? { until: new Date(until) } : {}),
      });
    },
  );
}
