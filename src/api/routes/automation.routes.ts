/**
 * Automation: auto-promotion rules (with a dry run), bindings (track-latest or pin) per application and environment,
 * promotion windows, and quarantine of bad digests. Members read; owners change rules and windows; promoters and
 * owners set bindings (a pin change is a promotion); admins quarantine.
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import {
  ADMIN,
  AUTHENTICATED,
  envBody,
  envParam,
  forEnvironments,
  PROJECT_READ,
  projectRole,
  visibleProjects,
} from '../permissions.ts';
import { Promotion } from '../components/promotions.ts';
import { Binding, Quarantine as Quarantined, Rule, RuleDryRun, RuleMode as Mode, Window } from '../components/index.ts';
import { errors } from './schemas.ts';
import { ApplicationName, DigestText, Expression, NameRef, TagTemplate, Text } from './fields.ts';

const OWNER = projectRole('owner');
const PROMOTER_OF_ENV = forEnvironments(projectRole('owner', 'promoter'), envParam());
/** A rule concerns its target environment. */
const RULE_TARGET = forEnvironments(OWNER, {
  kind: 'lookup',
  what: "the rule's target environment",
  find: async (s, req) => {
    const { project, name } = req.params;
    const rule = await s.rules.get(project ?? '', name ?? '').catch(() => undefined);
    return rule ? [rule.to] : [];
  },
});
const RuleBody = Type.Object(
  {
    name: NameRef(),
    // Null first: with type coercion on, a null tried against a string first would become "".
    application: Type.Optional(
      Type.Union([Type.Null(), ApplicationName()], {
        description: 'only this application; all of the project when absent',
      }),
    ),
    from: NameRef({ description: 'source environment' }),
    to: NameRef({ description: 'target environment' }),
    criteria: Type.Optional(
      Type.Array(Type.Unknown(), {
        maxItems: 32,
        description:
          'DTR-style criteria, all must match: {field: tag|label|vulnerabilities|license|component|signature|cel, op, value|values|name|severity|expression}',
      }),
    ),
    cel: Type.Optional(Expression({ description: 'a CEL expression (instead of, or besides, criteria)' })),
    tagTemplate: Type.Optional(
      Type.Union([Type.Null(), TagTemplate()], {
        description:
          '%n (source tag), strftime %Y %m %d %H %M %S …, {tag} {digest} {shortDigest} {timestamp} {env} {app}',
      }),
    ),
    mode: Type.Optional(Mode),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const P = Type.Object({ project: NameRef() });
const PN = Type.Object({ project: NameRef(), name: NameRef() });
const PAE = Type.Object({ project: NameRef(), app: ApplicationName(), env: NameRef() });

/** What the event stream says when a binding changed (the consoles showing the project refresh it). */
const bindingChanged = (p: { project: string; app: string; env: string }) =>
  ({ type: 'binding.changed', project: p.project, application: p.app, environment: p.env }) as const;

export function automationRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/projects/:project/rules',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listRules',
        summary: "The project's auto-promotion rules",
        tags: ['automation'],
        params: P,
        response: { 200: Type.Object({ items: Type.Array(Rule) }), ...errors },
      },
    },
    async (req) => ({
      items: await s.rules.list(req.params.project),
    }),
  );
  app.post(
    '/api/v1/projects/:project/rules',
    {
      config: { permission: forEnvironments(OWNER, envBody('to')) },
      schema: {
        operationId: 'createRule',
        summary: 'Add an auto-promotion rule; the answer shows the CEL its criteria compile to',
        tags: ['automation'],
        params: P,
        body: RuleBody,
        response: { 201: Rule, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await s.rules.create(actorOf(req), req.params.project, req.body)),
  );
  app.post(
    '/api/v1/projects/:project/rules/dry-run',
    {
      // A dry run evaluates the rule over every artifact of the source environment: owners only, as creating it is.
      config: { permission: OWNER },
      schema: {
        operationId: 'dryRunRule',
        summary: 'Which artifacts now in the source environment a rule would match (nothing is saved or promoted)',
        tags: ['automation'],
        params: P,
        body: RuleBody,
        response: {
          200: RuleDryRun,
          ...errors,
        },
      },
    },
    async (req) => s.rules.dryRun(req.params.project, req.body),
  );
  app.get(
    '/api/v1/projects/:project/rules/:name',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getRule',
        summary: 'One rule',
        tags: ['automation'],
        params: PN,
        response: { 200: Rule, ...errors },
      },
    },
    async (req) => s.rules.get(req.params.project, req.params.name),
  );
  app.delete(
    '/api/v1/projects/:project/rules/:name',
    {
      config: { permission: RULE_TARGET },
      schema: {
        operationId: 'deleteRule',
        summary: 'Remove a rule',
        tags: ['automation'],
        params: PN,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.rules.remove(actorOf(req), req.params.project, req.params.name);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/projects/:project/bindings',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listBindings',
        summary:
          'How each application’s version is chosen per environment (track-latest or pin), and what it holds now',
        tags: ['automation'],
        params: P,
        response: { 200: Type.Object({ items: Type.Array(Binding) }), ...errors },
      },
    },
    async (req) => ({
      items: await s.bindings.list(req.params.project),
    }),
  );
  app.put(
    '/api/v1/projects/:project/applications/:app/bindings/:env',
    {
      config: { permission: PROMOTER_OF_ENV },
      schema: {
        operationId: 'setBinding',
        summary:
          'Bind an environment to track the latest good upstream build, or pin it to a digest (a pin change opens a promotion with approvals)',
        tags: ['automation'],
        params: PAE,
        body: Type.Union([
          Type.Object({ mode: Type.Literal('track-latest') }, { additionalProperties: false }),
          Type.Object(
            {
              mode: Type.Literal('pin'),
              digest: DigestText(),
              comment: Type.Optional(Text()),
            },
            { additionalProperties: false },
          ),
        ]),
        response: {
          200: Type.Object({
            binding: Binding,
            promotion: Type.Union([Promotion, Type.Null()]),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const set = await s.bindings.set(
        { ...actorOf(req), isAdmin: req.identity?.isAdmin ?? false },
        req.params.project,
        req.params.app,
        req.params.env,
        req.body,
      );
      await s.live.announce(bindingChanged(req.params));
      return set;
    },
  );
  app.delete(
    '/api/v1/projects/:project/applications/:app/bindings/:env',
    {
      config: { permission: PROMOTER_OF_ENV },
      schema: {
        operationId: 'deleteBinding',
        summary: 'Remove a binding (back to manual promotions)',
        tags: ['automation'],
        params: PAE,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.bindings.remove(actorOf(req), req.params.project, req.params.app, req.params.env);
      await s.live.announce(bindingChanged(req.params));
      return reply.status(204).send(null);
    },
  );

  app.put(
    '/api/v1/projects/:project/environments/:env/windows',
    {
      config: { permission: forEnvironments(OWNER, envParam()) },
      schema: {
        operationId: 'setWindows',
        summary:
          'Set the promotion windows of an environment (empty: always open); outside them automation waits in QUEUED and manual requests are refused unless an admin overrides',
        tags: ['automation'],
        params: Type.Object({ project: NameRef(), env: NameRef() }),
        body: Type.Object({ windows: Type.Array(Window, { maxItems: 20 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ windows: Type.Array(Window) }), ...errors },
      },
    },
    async (req) => {
      const env = await s.environments.get(req.params.project, req.params.env);
      const { name, ...rest } = env;
      const updated = await s.environments.put(
        actorOf(req),
        req.params.project,
        { ...rest, name, windows: req.body.windows },
        'upsert',
      );
      return { windows: updated.windows };
    },
  );

  app.get(
    '/api/v1/quarantine',
    {
      config: { permission: AUTHENTICATED },
      schema: {
        operationId: 'listQuarantine',
        summary: "Quarantined digests: all for an admin, else those of the caller's projects' artifacts",
        tags: ['automation'],
        response: { 200: Type.Object({ items: Type.Array(Quarantined) }) },
      },
    },
    async (req) => ({ items: await s.quarantine.list(visibleProjects(req.identity)) }),
  );
  app.post(
    '/api/v1/quarantine',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'quarantineDigest',
        summary: 'Quarantine a digest: no further promotion anywhere; open requests for it are rejected',
        tags: ['automation'],
        body: Type.Object({ digest: DigestText(), reason: Text() }, { additionalProperties: false }),
        response: { 201: Type.Object({ quarantine: Quarantined, rejected: Type.Integer() }), ...errors },
      },
    },
    async (req, reply) => {
      const added = await s.quarantine.add(actorOf(req), req.body.digest, req.body.reason);
      await s.live.announce({ type: 'quarantine.changed' });
      return reply.status(201).send(added);
    },
  );
  app.delete(
    '/api/v1/quarantine/:digest',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'liftQuarantine',
        summary: 'Lift a quarantine (audited)',
        tags: ['automation'],
        params: Type.Object({ digest: DigestText() }),
        querystring: Type.Object({ comment: Type.Optional(Text()) }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.quarantine.lift(actorOf(req), req.params.digest, req.query.comment);
      await s.live.announce({ type: 'quarantine.changed' });
      return reply.status(204).send(null);
    },
  );
}
