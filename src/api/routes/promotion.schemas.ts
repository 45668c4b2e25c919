/**
 * Schemas of promotion requests and plans: the `blockedBy` list (why a target waits or was refused, as data; see
 * src/promotion/blocked-by.ts), targets, requests, the request preview and what a policy change does to waiting
 * targets. Target and Blocker are named components (see ../components/component.ts).
 */
import { Type } from '@fastify/type-provider-typebox';
import { component } from '../components/component.ts';
import { Verdict } from '../components/policies.ts';

export const TargetStateSchema = Type.Union([
  Type.Literal('AWAITING_APPROVAL'),
  Type.Literal('QUEUED'),
  Type.Literal('PROMOTING'),
  Type.Literal('PROMOTED'),
  Type.Literal('REJECTED'),
  Type.Literal('CANCELED'),
  Type.Literal('STALE'),
  Type.Literal('FAILED'),
]);

const PolicyRef = Type.Object({ name: Type.String(), version: Type.Integer() });

export const ConditionSchema = Type.Object({
  kind: Type.Union([Type.Literal('pass'), Type.Literal('fail')]),
  expression: Type.String(),
  result: Type.Union([Type.Boolean(), Type.Literal('error')]),
  error: Type.Optional(Type.String()),
  values: Type.Record(Type.String(), Type.Unknown(), {
    description: 'the variables the expression names, with the values it saw',
  }),
});

export const BlockerSchema = component(
  'Blocker',
  Type.Union(
    [
      Type.Object({
        kind: Type.Literal('approvals'),
        have: Type.Integer(),
        need: Type.Integer(),
        eligible: Type.Array(Type.String(), { description: 'who could still approve it' }),
        because: Type.Union([Type.Literal('policy'), Type.Literal('protected'), Type.Literal('automation')]),
      }),
      Type.Object({ kind: Type.Literal('edge'), from: Type.String(), to: Type.String(), message: Type.String() }),
      Type.Object({
        kind: Type.Literal('policy'),
        policy: PolicyRef,
        conditions: Type.Array(ConditionSchema),
        message: Type.String(),
      }),
      Type.Object({
        kind: Type.Literal('soak'),
        environment: Type.String(),
        until: Type.String(),
        message: Type.String(),
      }),
      Type.Object({
        kind: Type.Literal('window'),
        opensAt: Type.Union([Type.String(), Type.Null()]),
        message: Type.String(),
      }),
      Type.Object({
        kind: Type.Literal('quarantine'),
        reason: Type.String(),
        by: Type.String(),
        message: Type.String(),
      }),
      Type.Object({
        kind: Type.Literal('decision'),
        by: Type.String(),
        comment: Type.String(),
        message: Type.String(),
      }),
      Type.Object({ kind: Type.Literal('stale'), message: Type.String() }),
    ],
    { description: 'why a target waits (approvals) or was refused (anything else)' },
  ),
);

/** The verdict a target's policy gave, or null where no policy was evaluated. */
export const VerdictSchema = Type.Union([Verdict, Type.Null()]);

const TimelineStepSchema = component(
  'TimelineStep',
  Type.Object(
    {
      at: Type.String({ format: 'date-time' }),
      step: Type.Union([
        Type.Literal('requested'),
        Type.Literal('approved'),
        Type.Literal('rejected'),
        Type.Literal('reevaluated'),
        Type.Literal('canceled'),
        Type.Literal('promoting'),
        Type.Literal('promoted'),
        Type.Literal('failed'),
        Type.Literal('refused'),
        Type.Literal('retried'),
        Type.Literal('gitops'),
        Type.Literal('gitops-failed'),
      ]),
      by: Type.String({ description: 'a user, or hoist for the server’s own work' }),
      state: Type.Union([TargetStateSchema, Type.Null()], { description: 'the target’s state from this step on' }),
      detail: Type.String({ description: 'a comment, the registry’s error, a reason, a policy change; may be empty' }),
      bytesCopied: Type.Optional(Type.Integer({ description: 'bytes the copy streamed (on promoted)' })),
    },
    { description: 'one step of a target’s timeline, from the request’s audit entries and decisions' },
  ),
);

export const TargetSchema = component(
  'Target',
  Type.Object({
    environment: Type.String(),
    state: TargetStateSchema,
    policy: Type.Union([PolicyRef, Type.Null()]),
    approvalsNeeded: Type.Integer(),
    approvals: Type.Array(
      Type.Object({ username: Type.String(), decision: Type.String(), comment: Type.String(), at: Type.String() }),
    ),
    reasons: Type.Array(Type.String()),
    verdict: VerdictSchema,
    blockedBy: Type.Array(BlockerSchema),
    retry: Type.Optional(
      Type.Object(
        {
          at: Type.String({ format: 'date-time', description: 'the next attempt, not before this time' }),
          attempts: Type.Integer({ description: 'attempts made so far' }),
          failingSince: Type.String({
            format: 'date-time',
            description: 'when this run of failures began; retried for HOIST_PROMOTION_RETRY_FOR from then',
          }),
          lastError: Type.String(),
        },
        { description: 'present while the target waits to be tried again after a transient failure' },
      ),
    ),
    gitops: Type.Optional(
      Type.Object(
        {
          status: Type.Union(
            [Type.Literal('GITOPS_PENDING'), Type.Literal('GITOPS_PUSHED'), Type.Literal('GITOPS_FAILED')],
            { description: 'pending: not written yet (or retrying); pushed: the commit names the digest' },
          ),
          attempts: Type.Integer(),
          commit: Type.Union([Type.String(), Type.Null()]),
          branch: Type.Union([Type.String(), Type.Null()], {
            description: 'the branch pushed (mode branch: the review branch)',
          }),
          error: Type.Union([Type.String(), Type.Null()], { description: 'git’s message for the last failure' }),
          nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
        },
        { description: 'present when the environment has a git target: the write-back of this promotion' },
      ),
    ),
    bytesCopied: Type.Union([Type.Integer(), Type.Null()], {
      description: 'bytes the copy streamed once PROMOTED (mounted or present blobs cost none); null before',
    }),
    timeline: Type.Optional(
      Type.Array(TimelineStepSchema, {
        description: 'what happened to the target, oldest first (on one request’s answer, not in lists)',
      }),
    ),
  }),
);

/** On a request (and a history entry) that promotes a release: its name and every application's digest. */
export const RequestReleaseSchema = Type.Object(
  {
    name: Type.String(),
    applications: Type.Array(
      Type.Object({
        application: Type.String(),
        digest: Type.String(),
        tag: Type.Union([Type.String(), Type.Null()], { description: 'its tag in the source environment' }),
      }),
    ),
  },
  { description: 'present when the request promotes a release; `application` and `digest` are its first one' },
);

export const PromotionSchema = Type.Object({
  id: Type.String(),
  project: Type.String(),
  application: Type.String(),
  digest: Type.String(),
  tag: Type.Union([Type.String(), Type.Null()], {
    description: 'the tag the request named, or the image’s tag in the source environment (what policies judged)',
  }),
  from: Type.String(),
  requestedBy: Type.String(),
  comment: Type.String(),
  createdAt: Type.String(),
  targets: Type.Array(TargetSchema),
  release: Type.Optional(RequestReleaseSchema),
});

export const PromotionPreviewSchema = Type.Object({
  refusal: Type.Union([
    Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }),
    Type.Null(),
  ]),
  digest: Type.Union([Type.String(), Type.Null()]),
  from: Type.String(),
  targets: Type.Array(
    Type.Object({
      environment: Type.String(),
      state: TargetStateSchema,
      policy: Type.Union([PolicyRef, Type.Null()]),
      approvalsNeeded: Type.Integer(),
      reasons: Type.Array(Type.String()),
      verdict: VerdictSchema,
      blockedBy: Type.Array(BlockerSchema),
    }),
  ),
});

export const AffectedTargetSchema = Type.Object({
  request: Type.String(),
  project: Type.String(),
  application: Type.String(),
  environment: Type.String(),
  before: TargetStateSchema,
  after: TargetStateSchema,
  reason: Type.Union([Type.String(), Type.Null()]),
});
