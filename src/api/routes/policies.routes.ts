/**
 * Policies: the variable catalogue, checking one expression, versioned policies (admins change them), where they
 * apply, and a dry evaluation against sample values that shows each condition's result.
 */
import { Type } from '@fastify/type-provider-typebox';
import { compileCondition } from '../../policy/condition.ts';
import { evaluatePolicy } from '../../policy/evaluate.ts';
import { policyVariables, type PolicyInput } from '../../policy/inputs.ts';
import { VARIABLES } from '../../policy/variables.ts';
import { actorOf, type App, type Services } from '../context.ts';
import { ADMIN, AUTHENTICATED, visibleProjects } from '../permissions.ts';
import type { PolicyView } from '../../service/policies.service.ts';
import { InvalidInput } from '../../errors.ts';
import {
  ApplicationEnvironment as BindingSchema,
  ExpressionCheck,
  Policy,
  PolicyEvaluation,
  PolicyVariable,
} from '../components/index.ts';
import { errors, Name } from './schemas.ts';
import { AffectedTargetSchema } from './promotion.schemas.ts';
import {
  DateTime,
  DigestText,
  Expression,
  ITEMS,
  Label,
  NameRef,
  Repository,
  StringMap,
  Text,
  Url,
  Username,
  Value,
} from './fields.ts';

const Conditions = Type.Array(Expression(), { maxItems: 50 });
const ruleFields = {
  description: Type.Optional(Text()),
  passConditions: Type.Optional(Conditions),
  failConditions: Type.Optional(Conditions),
  approverCount: Type.Optional(Type.Integer({ minimum: 0, maximum: 6 })),
  allowRequestFromApprove: Type.Optional(Type.Boolean({ description: "the requester may approve (Devtron's name)" })),
  allowRequesterFromApprove: Type.Optional(
    Type.Boolean({ deprecated: true, description: 'the old name of allowRequestFromApprove, read on input only' }),
  ),
  allowImageBuilderFromApprove: Type.Optional(Type.Boolean()),
  allowApproverFromDeploy: Type.Optional(Type.Boolean()),
  allowSkipStages: Type.Optional(
    Type.Boolean({
      description: 'promotions into the environment may come from any earlier stage without a pipeline edge',
    }),
  ),
};
/**
 * One name for the flag: Devtron's `allowRequestFromApprove`. Bodies written for hoist before it took that name may
 * still say `allowRequesterFromApprove`; it is read as the new one (both, disagreeing, is refused), never answered.
 */
function devtronNames<T extends { allowRequestFromApprove?: boolean; allowRequesterFromApprove?: boolean }>(
  body: T,
): Omit<T, 'allowRequesterFromApprove'> {
  const { allowRequesterFromApprove: old, ...rest } = body;
  if (old === undefined) return rest;
  if (rest.allowRequestFromApprove !== undefined && rest.allowRequestFromApprove !== old)
    throw new InvalidInput(
      'allowRequesterFromApprove is the old name of allowRequestFromApprove: send one of them',
      'allowRequesterFromApprove',
    );
  return { ...rest, allowRequestFromApprove: old };
}

const params = Type.Object({ name: NameRef() });
const Count = Type.Integer({ minimum: 0 });
/** Sample values for a dry evaluation; everything optional, everything typed. */
const SampleInput = Type.Object(
  {
    image: Type.Optional(
      Type.Object(
        {
          repository: Type.Optional(Repository()),
          tag: Type.Optional(Label()),
          digest: Type.Optional(DigestText()),
          labels: Type.Optional(StringMap()),
          annotations: Type.Optional(StringMap()),
          created: Type.Optional(DateTime()),
          platforms: Type.Optional(Type.Array(Label(), { maxItems: ITEMS.entries })),
        },
        { additionalProperties: false },
      ),
    ),
    build: Type.Optional(
      Type.Object(
        {
          branch: Type.Optional(Value()),
          commit: Type.Optional(Value()),
          builder: Type.Optional(Value()),
          ciUrl: Type.Optional(Url()),
        },
        { additionalProperties: false },
      ),
    ),
    scan: Type.Optional(
      Type.Object({ critical: Count, high: Count, medium: Count, low: Count }, { additionalProperties: false }),
    ),
    sbom: Type.Optional(
      Type.Object(
        {
          licenses: Type.Array(Value(), { maxItems: ITEMS.entries }),
          components: Type.Array(Value(), { maxItems: ITEMS.entries }),
        },
        { additionalProperties: false },
      ),
    ),
    signaturePresent: Type.Optional(Type.Boolean()),
    source: Type.Optional(NameRef()),
    target: Type.Optional(NameRef()),
    user: Type.Optional(Username()),
  },
  { additionalProperties: false },
);

/** Policies are global, where they apply is not: a member sees the bindings of their own projects only. */
function onlyVisible(p: PolicyView, projects: readonly string[] | undefined): PolicyView {
  return projects === undefined ? p : { ...p, appliesTo: p.appliesTo.filter((b) => projects.includes(b.project)) };
}

export function policyRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/policy-variables',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'listPolicyVariables',
        summary: 'The variables policy conditions can use, with types and examples',
        tags: ['policies'],
        response: { 200: Type.Object({ items: Type.Array(PolicyVariable) }) },
      },
    },
    async () => ({ items: [...VARIABLES] }),
  );
  app.post(
    '/api/v1/policies/validate',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'validateCondition',
        summary: 'Check one CEL condition against the policy variables',
        tags: ['policies'],
        body: Type.Object({ expression: Expression() }, { additionalProperties: false }),
        response: {
          200: ExpressionCheck,
        },
      },
    },
    async (req) => {
      const c = compileCondition(req.body.expression);
      return c.ok
        ? { valid: true }
        : {
            valid: false,
            ...(c.problem
              ? { line: c.problem.line, column: c.problem.column, message: c.problem.message }
              : { message: c.error }),
          };
    },
  );
  app.get(
    '/api/v1/policies',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'listPolicies',
        summary: 'List policies (current versions)',
        tags: ['policies'],
        response: { 200: Type.Object({ items: Type.Array(Policy) }) },
      },
    },
    async (req) => ({ items: (await s.policies.list()).map((p) => onlyVisible(p, visibleProjects(req.identity))) }),
  );
  app.get(
    '/api/v1/policies/:name',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'getPolicy',
        summary: 'One policy, at its current or a given version',
        tags: ['policies'],
        params,
        querystring: Type.Object(
          { version: Type.Optional(Type.Integer({ minimum: 1 })) },
          { additionalProperties: false },
        ),
        response: { 200: Policy, ...errors },
      },
    },
    async (req) => onlyVisible(await s.policies.get(req.params.name, req.query.version), visibleProjects(req.identity)),
  );
  app.post(
    '/api/v1/policies',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'createPolicy',
        summary: 'Create a policy',
        tags: ['policies'],
        body: Type.Object({ name: Name, ...ruleFields }, { additionalProperties: false }),
        response: { 201: Policy, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await s.policies.put(actorOf(req), devtronNames(req.body), 'create')),
  );
  app.put(
    '/api/v1/policies/:name',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'putPolicy',
        summary: 'Create or update a policy (a change makes a new version)',
        tags: ['policies'],
        params,
        body: Type.Object(ruleFields, { additionalProperties: false }),
        response: { 200: Policy, ...errors },
      },
    },
    // Targets waiting under the policy are re-evaluated in the same transaction (fewer approvals or a denial: STALE).
    async (req) => s.policies.put(actorOf(req), { name: req.params.name, ...devtronNames(req.body) }, 'upsert'),
  );
  app.post(
    '/api/v1/policies/:name/preview',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'previewPolicyChange',
        summary:
          'What updating the policy with this body would do to the promotion targets waiting under it (STALE, QUEUED, AWAITING_APPROVAL); nothing is changed',
        tags: ['policies'],
        params,
        body: Type.Object(ruleFields, { additionalProperties: false }),
        response: {
          200: Type.Object({ policy: Type.String(), targets: Type.Array(AffectedTargetSchema) }),
          ...errors,
        },
      },
    },
    async (req) => ({
      policy: req.params.name,
      targets: await s.policies.previewUpdate(actorOf(req), { name: req.params.name, ...devtronNames(req.body) }),
    }),
  );
  app.delete(
    '/api/v1/policies/:name',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'deletePolicy',
        summary:
          'Delete a policy; targets waiting under it become STALE, which needs force=true (without it: 409 listing them)',
        tags: ['policies'],
        params,
        querystring: Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ deleted: Type.String(), stale: Type.Array(AffectedTargetSchema) }),
          204: Type.Null(),
          ...errors,
        },
      },
    },
    // 204 when nothing was waiting under it; 200 with the targets it made STALE otherwise.
    async (req, reply) => {
      const stale = await s.policies.remove(actorOf(req), req.params.name, { force: req.query.force ?? false });
      return stale.length === 0
        ? reply.status(204).send(null)
        : reply.status(200).send({ deleted: req.params.name, stale });
    },
  );
  app.post(
    '/api/v1/policies/:name/apply',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'applyPolicy',
        summary: 'Apply the policy to application × environment combinations',
        tags: ['policies'],
        params,
        body: Type.Object(
          { applicationEnvironments: Type.Array(BindingSchema, { minItems: 1, maxItems: 1000 }) },
          { additionalProperties: false },
        ),
        response: { 200: Policy, ...errors },
      },
    },
    async (req) => s.policies.apply(actorOf(req), req.params.name, req.body.applicationEnvironments),
  );
  app.post(
    '/api/v1/policies/:name/unapply',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'unapplyPolicy',
        summary:
          'Remove the policy from application × environment combinations (the only way a binding goes: deleting what it depends on is refused)',
        tags: ['policies'],
        params,
        body: Type.Object(
          { applicationEnvironments: Type.Array(BindingSchema, { minItems: 1, maxItems: 1000 }) },
          { additionalProperties: false },
        ),
        response: { 200: Policy, ...errors },
      },
    },
    // Targets waiting under it there become STALE in the same transaction (they must be requested again).
    async (req) => s.policies.unapply(actorOf(req), req.params.name, req.body.applicationEnvironments),
  );
  app.post(
    '/api/v1/policies/:name/evaluate',
    {
      // Policies are admins' (they write them); evaluating one on made-up values is theirs too.
      config: { permission: ADMIN },
      schema: {
        operationId: 'evaluatePolicy',
        summary:
          "Evaluate the policy against sample values (image, build, scan, sbom, …) and show each condition's result",
        description:
          'With passConditions and/or failConditions, those (an unsaved draft) are evaluated instead of the saved ones.',
        tags: ['policies'],
        params,
        body: Type.Object(
          { input: SampleInput, passConditions: Type.Optional(Conditions), failConditions: Type.Optional(Conditions) },
          { additionalProperties: false },
        ),
        response: { 200: PolicyEvaluation, ...errors },
      },
    },
    async (req) => {
      const p = await s.policies.get(req.params.name);
      const { image, ...rest } = req.body.input;
      const input: PolicyInput = {
        ...rest,
        image: {
          repository: '',
          tag: '',
          digest: '',
          ...image,
          created: image?.created ? new Date(image.created) : null,
        },
      };
      const vars = policyVariables(input);
      return {
        policy: p.name,
        version: p.version,
        ...evaluatePolicy(
          { pass: req.body.passConditions ?? p.passConditions, fail: req.body.failConditions ?? p.failConditions },
          vars,
        ),
      };
    },
  );
}
