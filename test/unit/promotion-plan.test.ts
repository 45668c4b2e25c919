/**
 * The promotion decision as tables, without a database: planPromotion (edge, skip, fail wins, errors deny, approvals,
 * separation of duties, environment-limited roles, soak, window, quarantine, duplicate targets, a protected
 * environment without a policy), planDecision / planCancel, and re-evaluation after a policy change.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Blocker } from '../../src/promotion/blocked-by.ts';
import type { EnvironmentFacts, PolicyFacts, PromotionContext } from '../../src/promotion/context.ts';
import { planCancel, planDecision, type DecisionContext } from '../../src/promotion/plan-decision.ts';
import { planPromotion, type PromotionInput } from '../../src/promotion/plan.ts';
import { planReevaluation, type WaitingTarget } from '../../src/promotion/plan-reevaluation.ts';

const NOW = new Date('2026-12-02T12:00:00Z'); // a Wednesday
const DIGEST = `sha256:${'a'.repeat(64)}`;

const env = (name: string, position: number, extra: Partial<EnvironmentFacts> = {}): EnvironmentFacts => ({
  id: `env-${name}`,
  name,
  position,
  protected: false,
  soakSeconds: 0,
  windows: [],
  ...extra,
});

const policy = (extra: Partial<PolicyFacts> = {}): PolicyFacts => ({
  name: 'gate',
  version: 1,
  passConditions: [],
  failConditions: [],
  approverCount: 0,
  allowRequestFromApprove: false,
  allowImageBuilderFromApprove: false,
  allowApproverFromDeploy: false,
  allowSkipStages: false,
  ...extra,
});

function context(over: Partial<PromotionContext> = {}, envExtra: Record<string, Partial<EnvironmentFacts>> = {}) {
  const base: PromotionContext = {
    project: { id: 'p1', name: 'shop' },
    application: { id: 'a1', name: 'web' },
    environments: [env('dev', 1, envExtra.dev), env('staging', 2, envExtra.staging), env('prod', 3, envExtra.prod)],
    edges: [
      { from: 'dev', to: 'staging' },
      { from: 'staging', to: 'prod' },
    ],
    policies: {},
    artifact: {
      id: 'x1',
      digest: DIGEST,
      repository: 'dev/web',
      tag: '1.0',
      labels: {},
      annotations: {},
      created: null,
      platforms: ['linux/amd64'],
      referrers: [],
      scan: null,
      sbom: null,
      build: { builder: 'ci-bot' },
      locations: [{ environment: 'dev', tag: '1.0', since: new Date(NOW.getTime() - 3600_000) }],
      tags: ['1.0'],
      quarantine: null,
    },
    deciders: [
      { username: 'pat', role: 'promoter', environments: null },
      { username: 'pam', role: 'promoter', environments: ['prod'] },
      { username: 'ci-bot', role: 'promoter', environments: null },
      { username: 'devon', role: 'owner', environments: null },
    ],
    webhooks: [],
  };
  return { ...base, ...over };
}

const input = (to: string[], extra: Partial<PromotionInput> = {}): PromotionInput => ({
  digest: DIGEST,
  from: 'dev',
  to,
  ...extra,
});
const devon = { username: 'devon', isAdmin: false };
const kinds = (b: readonly Blocker[]) => b.map((x) => x.kind);

describe('planPromotion: each target decided, and why', () => {
  const cases: Array<{
    name: string;
    ctx: PromotionContext;
    to: string[];
    want: Array<[string, string, string[]]>;
  }> = [
    { name: 'an edge, no policy: queued', ctx: context(), to: ['staging'], want: [['staging', 'QUEUED', []]] },
    { name: 'no edge: rejected', ctx: context(), to: ['prod'], want: [['prod', 'REJECTED', ['edge']]] },
    {
      name: 'skip allowed by the policy, later stage: allowed',
      ctx: context({ policies: { prod: policy({ allowSkipStages: true }) } }),
      to: ['prod'],
      want: [['prod', 'QUEUED', []]],
    },
    {
      name: 'skip not allowed by the policy',
      ctx: context({ policies: { prod: policy() } }),
      to: ['prod'],
      want: [['prod', 'REJECTED', ['edge']]],
    },
    {
      name: 'fail wins over pass',
      ctx: context({
        policies: { staging: policy({ passConditions: ['true'], failConditions: ['image.tag == "1.0"'] }) },
      }),
      to: ['staging'],
      want: [['staging', 'REJECTED', ['policy']]],
    },
    {
      name: 'an evaluation error denies',
      ctx: context({ policies: { staging: policy({ passConditions: ['image.labels["missing"] == "x"'] }) } }),
      to: ['staging'],
      want: [['staging', 'REJECTED', ['policy']]],
    },
    {
      name: 'approvals needed',
      ctx: context({ policies: { staging: policy({ approverCount: 2 }) } }),
      to: ['staging'],
      want: [['staging', 'AWAITING_APPROVAL', ['approvals']]],
    },
    {
      name: 'a protected environment without a policy needs one approval',
      ctx: context({}, { staging: { protected: true } }),
      to: ['staging'],
      want: [['staging', 'AWAITING_APPROVAL', ['approvals']]],
    },
    {
      name: 'a protected environment whose policy needs none: the policy decides',
      ctx: context({ policies: { staging: policy() } }, { staging: { protected: true } }),
      to: ['staging'],
      want: [['staging', 'QUEUED', []]],
    },
    {
      name: 'duplicate targets collapse, each labelled by its environment',
      ctx: context(),
      to: ['staging', 'staging', 'prod'],
      want: [
        ['staging', 'QUEUED', []],
        ['prod', 'REJECTED', ['edge']],
      ],
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const plan = planPromotion(c.ctx, input(c.to), devon, NOW);
      assert.equal(plan.refusal, null);
      assert.deepEqual(
        plan.targets.map((t) => [t.environment.name, t.state, kinds(t.blockedBy)]),
        c.want,
      );
      assert.deepEqual(plan.states, Object.fromEntries(c.want.map(([e, s]) => [e, s])));
    });

  test('a policy blocker carries every condition with the values it saw', () => {
    const plan = planPromotion(
      context({
        policies: {
          staging: policy({ passConditions: ['signature.present'], failConditions: ['image.tag == "1.0"'] }),
        },
      }),
      input(['staging']),
      devon,
      NOW,
    );
    const b = plan.targets[0]?.blockedBy[0];
    assert.equal(b?.kind, 'policy');
    if (b?.kind !== 'policy') return;
    assert.deepEqual(
      b.conditions.map((c) => [c.kind, c.expression, c.result, c.values]),
      [
        ['pass', 'signature.present', false, { 'signature.present': false }],
        ['fail', 'image.tag == "1.0"', true, { 'image.tag': '1.0' }],
      ],
    );
    assert.deepEqual(plan.targets[0]?.reasons, [
      'pass condition `signature.present` is false; fail condition `image.tag == "1.0"` is true',
    ]);
  });

  test('separation of duties and environment-limited roles shape who is eligible', () => {
    const staging = planPromotion(
      context({ policies: { staging: policy({ approverCount: 1 }), prod: policy({ approverCount: 1 }) } }),
      input(['staging']),
      devon,
      NOW,
    ).targets[0]?.blockedBy[0];
    // devon requested it, ci-bot built it, pam is limited to prod.
    assert.deepEqual(staging, { kind: 'approvals', have: 0, need: 1, eligible: ['pat'], because: 'policy' });
    const relaxed = planPromotion(
      context({
        policies: {
          staging: policy({ approverCount: 1, allowRequestFromApprove: true, allowImageBuilderFromApprove: true }),
        },
      }),
      input(['staging']),
      devon,
      NOW,
    ).targets[0]?.blockedBy[0];
    assert.deepEqual(relaxed?.kind === 'approvals' && relaxed.eligible, ['ci-bot', 'devon', 'pat']);
  });

  test('an automation in request mode needs one approval even without a policy', () => {
    const plan = planPromotion(context(), input(['staging']), { username: 'rule:r', isAdmin: false }, NOW, {
      key: 'rule:1:x1',
      requireApproval: true,
      tag: 'v1',
    });
    assert.deepEqual(plan.targets[0]?.blockedBy[0], {
      kind: 'approvals',
      have: 0,
      need: 1,
      eligible: ['devon', 'pat'], // ci-bot built the image
      because: 'automation',
    });
    assert.equal(plan.targets[0]?.tag, 'v1');
  });

  test('policies judge the tag the request names when the digest has several (dev-9, then v9)', () => {
    const retagged = context({ policies: { staging: policy({ passConditions: ['image.tag.startsWith("v")'] }) } });
    if (retagged.artifact) retagged.artifact = { ...retagged.artifact, tag: 'dev-9', tags: ['dev-9', 'v9'] };
    const named = (tag?: string) =>
      planPromotion(retagged, input(['staging'], tag ? { tag } : {}), devon, NOW).targets[0]?.state;
    assert.equal(named('v9'), 'QUEUED');
    assert.equal(named('dev-9'), 'REJECTED');
    assert.equal(named(), 'REJECTED', 'no tag named: the one it was first seen with');
    assert.equal(planPromotion(retagged, input(['staging'], { tag: 'v9' }), devon, NOW).tag, 'v9');
  });

  const soaking = context({}, { dev: { soakSeconds: 7200 } });
  const quarantined = context();
  if (quarantined.artifact)
    quarantined.artifact = { ...quarantined.artifact, quarantine: { reason: 'CVE-1', by: 'sec', at: NOW } };
  const closed = context(
    {},
    { staging: { windows: [{ days: ['sun'], start: '10:00', end: '11:00', timeZone: 'UTC' }] } },
  );
  const refusals: Array<{
    name: string;
    ctx: PromotionContext;
    extra?: Partial<PromotionInput>;
    admin?: boolean;
    want: string | null;
    blocker?: string;
  }> = [
    { name: 'soak time not over: refused, with until', ctx: soaking, want: 'conflict', blocker: 'soak' },
    { name: 'quarantined: refused', ctx: quarantined, want: 'conflict', blocker: 'quarantine' },
    { name: 'window closed: refused, with opensAt', ctx: closed, want: 'conflict', blocker: 'window' },
    { name: 'window closed, admin overrides', ctx: closed, extra: { overrideWindow: true }, admin: true, want: null },
    { name: 'override by a non-admin: forbidden', ctx: closed, extra: { overrideWindow: true }, want: 'forbidden' },
    { name: 'not in the source environment', ctx: context(), extra: { from: 'staging' }, want: 'invalid' },
    { name: 'an unknown target', ctx: context(), extra: { to: ['qa'] }, want: 'invalid' },
    { name: 'the source as target', ctx: context(), extra: { to: ['dev'] }, want: 'invalid' },
    { name: 'no artifact', ctx: context({ artifact: null }), want: 'not-found' },
    { name: 'a tag the digest never had', ctx: context(), extra: { tag: 'v1b' }, want: 'invalid' },
  ];
  for (const r of refusals)
    test(r.name, () => {
      const plan = planPromotion(
        r.ctx,
        input(['staging'], r.extra),
        { username: 'devon', isAdmin: r.admin ?? false },
        NOW,
      );
      assert.equal(plan.refusal?.kind ?? null, r.want);
      if (r.blocker) {
        const b = plan.targets[0]?.blockedBy.find((x) => x.kind === r.blocker);
        assert.ok(b, `a ${r.blocker} blocker in the preview`);
        if (b?.kind === 'soak') assert.equal(b.until, new Date(NOW.getTime() + 3600_000).toISOString());
        if (b?.kind === 'window') assert.equal(b.opensAt, '2026-12-06T10:00:00.000Z');
      }
    });

  test('automation is not refused outside a window (the runner holds it in QUEUED)', () => {
    const plan = planPromotion(closed, input(['staging']), { username: 'rule:r', isAdmin: false }, NOW, {
      key: 'k',
      requireApproval: false,
    });
    assert.deepEqual([plan.refusal, plan.targets[0]?.state], [null, 'QUEUED']);
  });
});

describe('planDecision and planCancel', () => {
  const ctx = (over: Partial<DecisionContext['targets'][number]> = {}): DecisionContext => ({
    request: { id: 'r1', requestedBy: 'devon', digest: DIGEST, from: 'dev', application: 'web' },
    project: { id: 'p1', name: 'shop' },
    builder: 'ci-bot',
    targets: [
      {
        id: 't1',
        environment: 'staging',
        state: 'AWAITING_APPROVAL',
        approvalsNeeded: 2,
        policy: policy({ approverCount: 2 }),
        decisions: [],
        blockedBy: null,
        ...over,
      },
    ],
    deciders: [
      { username: 'pat', role: 'promoter', environments: null },
      { username: 'pia', role: 'promoter', environments: null },
      { username: 'pam', role: 'promoter', environments: ['prod'] },
    ],
  });
  const member = (username: string, environments: string[] | null = null) => ({
    username,
    isAdmin: false,
    memberships: [{ project: 'shop', role: 'promoter', environments }],
  });
  const rows: Array<{
    name: string;
    c: DecisionContext;
    who: ReturnType<typeof member>;
    decision: 'approve' | 'reject';
    want: string;
  }> = [
    {
      name: 'first of two approvals: still waiting',
      c: ctx(),
      who: member('pat'),
      decision: 'approve',
      want: 'AWAITING_APPROVAL',
    },
    {
      name: 'second approval: queued',
      c: ctx({ decisions: [{ username: 'pia', decision: 'approve', at: NOW }] }),
      who: member('pat'),
      decision: 'approve',
      want: 'QUEUED',
    },
    {
      name: 'the same person twice: conflict that says so',
      c: ctx({ decisions: [{ username: 'pat', decision: 'approve', at: NOW }] }),
      who: member('pat'),
      decision: 'approve',
      want: 'conflict',
    },
    { name: 'a rejection ends it', c: ctx(), who: member('pat'), decision: 'reject', want: 'REJECTED' },
    {
      name: 'a role limited to prod: forbidden',
      c: ctx(),
      who: member('pam', ['prod']),
      decision: 'approve',
      want: 'forbidden',
    },
    { name: 'the requester: forbidden (duty)', c: ctx(), who: member('devon'), decision: 'approve', want: 'forbidden' },
    { name: 'the builder: forbidden (duty)', c: ctx(), who: member('ci-bot'), decision: 'approve', want: 'forbidden' },
    {
      name: 'nothing waiting: conflict',
      c: ctx({ state: 'QUEUED' }),
      who: member('pat'),
      decision: 'approve',
      want: 'conflict',
    },
  ];
  for (const r of rows)
    test(r.name, () => {
      const plan = planDecision(r.c, r.who, r.decision, '');
      assert.equal(plan.refusal?.kind ?? plan.changes[0]?.state, r.want);
    });

  test('the repeated decision names what was decided', () => {
    const plan = planDecision(
      ctx({ decisions: [{ username: 'pat', decision: 'approve', at: NOW }] }),
      member('pat'),
      'approve',
      '',
    );
    assert.match(
      plan.refusal?.kind === 'conflict' ? plan.refusal.message : '',
      /decided on staging already \(approved at/,
    );
  });

  test('an approval updates who else is eligible', () => {
    const plan = planDecision(ctx(), member('pat'), 'approve', '');
    assert.deepEqual(plan.changes[0]?.blockedBy, [
      { kind: 'approvals', have: 1, need: 2, eligible: ['pia'], because: 'policy' },
    ]);
  });

  test('cancel: only the requester or an admin; running targets are left alone', () => {
    assert.equal(planCancel(ctx(), member('pat')).refusal?.kind, 'forbidden');
    assert.deepEqual(
      planCancel(ctx(), { ...member('devon') }).changes.map((c) => [c.environment, c.state]),
      [['staging', 'CANCELED']],
    );
    assert.equal(planCancel(ctx({ state: 'PROMOTING' }), member('devon')).refusal?.kind, 'conflict');
    assert.equal(planCancel(ctx(), { ...member('root'), isAdmin: true }).refusal, null);
  });
});

describe('planReevaluation: a policy change never lets a waiting target through with fewer approvals', () => {
  const waiting = (over: Partial<WaitingTarget> = {}): WaitingTarget => {
    const c = context();
    return {
      id: 't1',
      requestId: 'r1',
      project: 'shop',
      application: 'web',
      from: env('dev', 1),
      to: env('prod', 3, { protected: true }),
      state: 'AWAITING_APPROVAL',
      policyName: 'gate',
      policyVersion: 1,
      approvalsNeeded: 2,
      approvedBy: ['pat'],
      decidedBy: ['pat'],
      requestedBy: 'devon',
      artifact: c.artifact as NonNullable<PromotionContext['artifact']>,
      policyNow: policy({ version: 2, approverCount: 2 }),
      deciders: c.deciders,
      ...over,
    };
  };
  const rows: Array<{ name: string; t: WaitingTarget; kind: 'update' | 'delete' | 'apply'; want: string }> = [
    { name: 'deleted policy: stale', t: waiting(), kind: 'delete', want: 'STALE' },
    {
      name: 'fewer approvals: stale',
      t: waiting({ policyNow: policy({ version: 2, approverCount: 1 }) }),
      kind: 'update',
      want: 'STALE',
    },
    {
      name: 'no approvals at all: stale',
      t: waiting({ policyNow: policy({ version: 2 }) }),
      kind: 'update',
      want: 'STALE',
    },
    {
      name: 'same count: still waiting, under the new version',
      t: waiting(),
      kind: 'update',
      want: 'AWAITING_APPROVAL',
    },
    {
      name: 'same count and version: nothing to write',
      t: waiting({ policyVersion: 2 }),
      kind: 'update',
      want: 'unchanged',
    },
    {
      name: 'more approvals: still waiting',
      t: waiting({ policyNow: policy({ version: 2, approverCount: 3 }) }),
      kind: 'update',
      want: 'AWAITING_APPROVAL',
    },
    {
      name: 'now denies: stale',
      t: waiting({ policyNow: policy({ version: 2, approverCount: 2, failConditions: ['true'] }) }),
      kind: 'update',
      want: 'STALE',
    },
    {
      name: 'a queued target under a stricter policy waits for the approvals',
      t: waiting({
        state: 'QUEUED',
        approvalsNeeded: 0,
        approvedBy: [],
        decidedBy: [],
        policyNow: policy({ approverCount: 1 }),
      }),
      kind: 'apply',
      want: 'AWAITING_APPROVAL',
    },
    {
      name: 'a queued target under an equal policy is left alone',
      t: waiting({ state: 'QUEUED', approvalsNeeded: 1, approvedBy: ['pat'], policyNow: policy({ approverCount: 1 }) }),
      kind: 'apply',
      want: 'unchanged',
    },
  ];
  for (const r of rows)
    test(r.name, () => {
      const [change] = planReevaluation([r.t], { kind: r.kind, policy: 'gate' }, NOW);
      assert.equal(change?.state ?? 'unchanged', r.want);
      if (r.want === 'STALE') assert.equal(change?.blockedBy[0]?.kind, 'stale');
    });
});
