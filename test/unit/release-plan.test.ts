/**
 * A release's plan and decisions as tables, without a database: each application's own plan (planPromotion) combined
 * — a refusal names its application, a target is refused if any application's is, waits for as many approvals as the
 * most demanding policy asks from people every policy allows, else is queued — and a decision planned once per
 * application (its policy, its builder), refused if any application's policy bars the approver.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnvironmentFacts, PolicyFacts, PromotionContext } from '../../src/promotion/context.ts';
import { planDecision, type DecisionContext } from '../../src/promotion/plan-decision.ts';
import { planPromotion } from '../../src/promotion/plan.ts';
import { planRelease } from '../../src/release/plan-release.ts';
import { planReleaseDecision } from '../../src/release/plan-release-decision.ts';

const NOW = new Date('2026-12-02T12:00:00Z');
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const env = (name: string, position: number): EnvironmentFacts => ({
  id: `env-${name}`,
  name,
  position,
  protected: false,
  soakSeconds: 0,
  windows: [],
});
const policy = (name: string, extra: Partial<PolicyFacts> = {}): PolicyFacts => ({
  name,
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

function context(app: string, c: string, policies: Record<string, PolicyFacts> = {}, builder = 'ci'): PromotionContext {
  return {
    project: { id: 'p1', name: 'shop' },
    application: { id: `a-${app}`, name: app },
    environments: [env('dev', 1), env('prod', 2)],
    edges: [{ from: 'dev', to: 'prod' }],
    policies,
    artifact: {
      id: `x-${app}`,
      digest: digest(c),
      repository: `dev/${app}`,
      tag: '1',
      labels: {},
      annotations: {},
      created: null,
      platforms: [],
      referrers: [],
      scan: null,
      sbom: null,
      build: { builder },
      locations: [{ environment: 'dev', tag: '1', since: new Date(NOW.getTime() - 3600_000) }],
      tags: ['1'],
      quarantine: null,
    },
    deciders: ['devon', 'pat', 'pia', 'ci'].map((username) => ({ username, role: 'promoter', environments: null })),
    webhooks: [],
  };
}

const plan = (ctx: PromotionContext) =>
  planPromotion(
    ctx,
    { digest: ctx.artifact?.digest ?? '', from: 'dev', to: ['prod'] },
    { username: 'devon', isAdmin: false },
    NOW,
  );

describe('planRelease: the whole set decides each target', () => {
  const cases: Array<{
    name: string;
    parts: PromotionContext[];
    state: string;
    need?: number;
    eligible?: string[];
    reason?: RegExp;
  }> = [
    { name: 'no policy anywhere: queued', parts: [context('api', 'a'), context('web', 'b')], state: 'QUEUED', need: 0 },
    {
      name: 'one application needs two approvals: the release waits for two',
      parts: [
        context('api', 'a', { prod: policy('two', { approverCount: 2 }) }),
        context('web', 'b', { prod: policy('one', { approverCount: 1 }) }),
      ],
      state: 'AWAITING_APPROVAL',
      need: 2,
      eligible: ['pat', 'pia'],
    },
    {
      name: 'who may approve is who may for every application (a builder barred by one)',
      parts: [
        context('api', 'a', { prod: policy('one', { approverCount: 1 }) }, 'pia'),
        context('web', 'b', { prod: policy('one', { approverCount: 1, allowImageBuilderFromApprove: true }) }),
      ],
      state: 'AWAITING_APPROVAL',
      need: 1,
      eligible: ['ci', 'pat'],
    },
    {
      name: "one application's policy denies: refused, the reason names it",
      parts: [context('api', 'a'), context('web', 'b', { prod: policy('no', { failConditions: ['true'] }) })],
      state: 'REJECTED',
      reason: /^web: /,
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const p = planRelease(c.parts.map((ctx) => ({ application: ctx.application.name, plan: plan(ctx) })));
      assert.equal(p.refusal, null);
      const t = p.targets[0];
      assert.equal(t?.state, c.state);
      if (c.need !== undefined) assert.equal(t?.approvalsNeeded, c.need);
      const approvals = t?.blockedBy.find((b) => b.kind === 'approvals');
      if (c.eligible) assert.deepEqual(approvals?.kind === 'approvals' ? approvals.eligible : null, c.eligible);
      if (c.reason) assert.match(t?.reasons.join('; ') ?? '', c.reason);
    });

  test('a refusal of one application refuses the request, naming it', () => {
    const worker = context('worker', 'c');
    worker.artifact!.quarantine = { reason: 'CVE', by: 'sec', at: NOW };
    const p = planRelease(
      [context('api', 'a'), worker].map((ctx) => ({ application: ctx.application.name, plan: plan(ctx) })),
    );
    assert.equal(p.refusal?.kind, 'conflict');
    assert.match(p.refusal?.kind === 'conflict' ? p.refusal.message : '', /^worker: .* is quarantined/);
  });
});

describe('planReleaseDecision: separation of duties for every application', () => {
  const decision = (over: Partial<DecisionContext> = {}): DecisionContext => ({
    request: { id: 'r1', requestedBy: 'devon', digest: digest('a'), from: 'dev', application: 'api' },
    project: { id: 'p1', name: 'shop' },
    builder: undefined,
    targets: [
      {
        id: 't1',
        environment: 'prod',
        state: 'AWAITING_APPROVAL',
        approvalsNeeded: 1,
        policy: null,
        decisions: [],
        blockedBy: null,
      },
    ],
    deciders: ['devon', 'pat', 'pia'].map((username) => ({ username, role: 'promoter' as const, environments: null })),
    ...over,
  });
  const caller = (username: string) => ({
    username,
    isAdmin: false,
    memberships: [{ project: 'shop', role: 'promoter', environments: null }],
  });
  const parts = [
    {
      application: 'api',
      builder: 'pia',
      policies: { t1: policy('lax', { allowRequestFromApprove: true, approverCount: 1 }) },
    },
    { application: 'web', builder: 'ci', policies: { t1: policy('strict', { approverCount: 1 }) } },
  ];
  const rows: Array<{ who: string; refused?: RegExp; state?: string }> = [
    { who: 'devon', refused: /^web: prod: you requested this promotion/ },
    { who: 'pia', refused: /^api: prod: you built this image/ },
    { who: 'pat', state: 'QUEUED' },
  ];
  for (const r of rows)
    test(`${r.who} approves`, () => {
      const p = planReleaseDecision(decision(), parts, (c) => planDecision(c, caller(r.who), 'approve', ''));
      if (r.refused) assert.match(p.refusal?.kind === 'forbidden' ? p.refusal.message : '', r.refused);
      else assert.equal(p.changes[0]?.state, r.state);
    });
});
