/** Policies, where they apply, the variable catalogue, and verdicts (each condition with its result). */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';
import { ApplicationName, NameRef } from '../routes/fields.ts';

export const ApplicationEnvironment = component(
  'ApplicationEnvironment',
  Type.Object(
    { project: NameRef(), application: ApplicationName(), environment: NameRef() },
    { additionalProperties: false, description: 'An application × environment combination a policy applies to' },
  ),
);

export const Policy = component(
  'Policy',
  Type.Object({
    name: Type.String(),
    version: Type.Integer(),
    description: Type.String(),
    passConditions: Type.Array(Type.String()),
    failConditions: Type.Array(Type.String()),
    approverCount: Type.Integer(),
    allowRequestFromApprove: Type.Boolean(),
    allowImageBuilderFromApprove: Type.Boolean(),
    allowApproverFromDeploy: Type.Boolean(),
    allowSkipStages: Type.Boolean(),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    appliesTo: Type.Array(ApplicationEnvironment),
  }),
);

export const PolicyVariable = component(
  'PolicyVariable',
  Type.Object({ name: Type.String(), type: Type.String(), description: Type.String(), example: Type.String() }),
);

export const ConditionResult = component(
  'ConditionResult',
  Type.Object({
    kind: Type.Union([Type.Literal('pass'), Type.Literal('fail')]),
    expression: Type.String(),
    result: Type.Union([Type.Boolean(), Type.Literal('error')]),
    error: Type.Optional(Type.String()),
  }),
);

export const Verdict = component(
  'Verdict',
  Type.Object(
    { allowed: Type.Boolean(), reasons: Type.Array(Type.String()), conditions: Type.Array(ConditionResult) },
    { description: 'Denied when a fail condition is true, a pass condition is not, or a condition errs' },
  ),
);

export const PolicyEvaluation = component(
  'PolicyEvaluation',
  Type.Object({
    policy: Type.String(),
    version: Type.Integer(),
    allowed: Type.Boolean(),
    reasons: Type.Array(Type.String()),
    conditions: Type.Array(ConditionResult),
  }),
);

export const ExpressionCheck = component(
  'ExpressionCheck',
  Type.Object({
    valid: Type.Boolean(),
    line: Type.Optional(Type.Integer()),
    column: Type.Optional(Type.Integer()),
    message: Type.Optional(Type.String()),
  }),
);
