/** Auto-promotion rules, bindings (track-latest or pin), quarantine, push events in and the poller's watches. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

export const RuleMode = component('RuleMode', Type.Union([Type.Literal('promote'), Type.Literal('request')]));

export const Rule = component(
  'Rule',
  Type.Object({
    name: Type.String(),
    application: Type.Union([Type.String(), Type.Null()]),
    from: Type.String(),
    to: Type.String(),
    criteria: Type.Array(Type.Unknown()),
    expression: Type.String({ description: 'the CEL the criteria compile to' }),
    description: Type.Array(Type.String()),
    tagTemplate: Type.Union([Type.String(), Type.Null()]),
    mode: RuleMode,
    enabled: Type.Boolean(),
    createdBy: Type.String(),
    createdAt: Type.String(),
  }),
);

export const RuleDryRun = component(
  'RuleDryRun',
  Type.Object({
    expression: Type.String(),
    artifacts: Type.Array(
      Type.Object({
        application: Type.String(),
        digest: Type.String(),
        tag: Type.Union([Type.String(), Type.Null()]),
        matches: Type.Boolean(),
        error: Type.Optional(Type.String()),
        targetTag: Type.Optional(
          Type.String({ description: 'with a tag template, for a match: the tag it would be promoted under now' }),
        ),
        tagError: Type.Optional(Type.String({ description: 'why the tag template gives no valid tag for this one' })),
      }),
    ),
  }),
);

export const Binding = component(
  'Binding',
  Type.Object({
    application: Type.String(),
    environment: Type.String(),
    mode: Type.Union([Type.Literal('track-latest'), Type.Literal('pin')]),
    pinnedDigest: Type.Union([Type.String(), Type.Null()]),
    current: Type.Union([Type.String(), Type.Null()]),
    updatedBy: Type.String(),
    updatedAt: Type.String(),
  }),
);

export const Quarantine = component(
  'Quarantine',
  Type.Object({ digest: Type.String(), reason: Type.String(), by: Type.String(), at: Type.String() }),
);

export const PushEvent = component(
  'PushEvent',
  Type.Object({
    id: Type.String(),
    registry: Type.String(),
    source: Type.String(),
    repository: Type.String(),
    tag: Type.Union([Type.String(), Type.Null()]),
    digest: Type.String(),
    state: Type.String(),
    outcome: Type.Union([Type.String(), Type.Null()]),
    receivedAt: Type.String(),
    doneAt: Type.Union([Type.String(), Type.Null()]),
  }),
);

export const WatchCheck = component(
  'WatchCheck',
  Type.Object({
    tags: Type.Integer(),
    added: Type.Array(Type.String()),
    moved: Type.Array(Type.String()),
    removed: Type.Array(Type.String()),
    requests: Type.Integer(),
    seconds: Type.Number(),
    error: Type.Optional(Type.String()),
  }),
);

export const Watch = component(
  'Watch',
  Type.Object({
    id: Type.String(),
    registry: Type.String(),
    repository: Type.String(),
    intervalSeconds: Type.Integer(),
    tags: Type.Integer(),
    lastCheckedAt: Type.Union([Type.String(), Type.Null()]),
    lastResult: Type.Union([WatchCheck, Type.Null()]),
    nextCheckAt: Type.String(),
  }),
);
