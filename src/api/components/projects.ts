/** Projects and members, registries, environments and the pipeline's edges. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';
import { ProjectRole } from './accounts.ts';
import { DAYS, END_PATTERN, START_PATTERN, type Day } from '../../automation/window.ts';
import { Label, NameRef } from '../routes/fields.ts';

export const Project = component(
  'Project',
  Type.Object({ name: Type.String(), description: Type.String(), createdAt: Type.String(), updatedAt: Type.String() }),
);

export const Namespace = component(
  'Namespace',
  Type.Object({
    project: Type.String(),
    registry: Type.String(),
    prefix: Type.String({ description: 'with its trailing slash: shop/ grants shop/web, shop/team/api, …' }),
    createdBy: Type.String(),
    createdAt: Type.String(),
  }),
);

export const Member = component(
  'Member',
  Type.Object({
    username: Type.String(),
    role: ProjectRole,
    environments: Type.Union([Type.Array(Type.String()), Type.Null()]),
  }),
);

export const Registry = component(
  'Registry',
  Type.Object({
    name: Type.String(),
    url: Type.String({ description: 'host[:port]' }),
    insecure: Type.Boolean({ description: 'plain HTTP' }),
    username: Type.Union([Type.String(), Type.Null()]),
    hasSecret: Type.Boolean(),
    pollBudget: Type.Integer({ description: 'requests per second the poller may send' }),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  }),
);

export const ConnectionReport = component(
  'ConnectionReport',
  Type.Object({
    reachable: Type.Boolean(),
    auth: Type.String(),
    referrersApi: Type.Union([Type.Boolean(), Type.Literal('unknown')]),
    message: Type.String({ description: "the registry's own message" }),
  }),
);

export const Window = component(
  'Window',
  Type.Object(
    {
      days: Type.Array(Type.Unsafe<Day>({ type: 'string', enum: [...DAYS] }), { minItems: 1, maxItems: 7 }),
      start: Type.String({ pattern: START_PATTERN, description: 'HH:MM' }),
      end: Type.String({
        pattern: END_PATTERN,
        description: 'HH:MM or 24:00; before start for a window over midnight',
      }),
      timeZone: Label({ description: 'IANA time zone, e.g. Europe/Berlin' }),
    },
    { additionalProperties: false, description: 'When promotions may enter an environment' },
  ),
);

export const Environment = component(
  'Environment',
  Type.Object({
    name: Type.String(),
    position: Type.Integer(),
    kind: Type.Union([Type.Literal('repository'), Type.Literal('tag')]),
    registry: Type.String(),
    repository: Type.String(),
    tag: Type.Union([Type.String(), Type.Null()]),
    immutableTags: Type.Boolean(),
    allowTagMove: Type.Boolean(),
    protected: Type.Boolean(),
    soakSeconds: Type.Integer(),
    windows: Type.Array(Window),
  }),
);

export const Edge = component('Edge', Type.Object({ from: NameRef(), to: NameRef() }, { additionalProperties: false }));
