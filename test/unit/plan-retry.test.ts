/**
 * Retrying FAILED targets, as a table without a database: which targets are retried (FAILED only, or those named),
 * what they become (QUEUED, or AWAITING_APPROVAL when the policy now asks for more approvals than were given), and
 * every check a new request would meet refusing the retry as a whole (policy, quarantine, window).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWindowSpec } from '../../src/automation/window.ts';
import type { PolicyFacts, PromotionContext } from '../../src/promotion/context.ts';
import { planRetry, type RequestTarget, type RetryPlan } from '../../src/promotion/plan-retry.ts';

const NOW = new Date('2026-12-02T12:00:00Z'); // a Wednesday, noon
const DIGEST = `sha256:${'b'.repeat(64)}`;

function contextWith(o: {
  policy?: Partial<PolicyFacts>;
  quarantined?: boolean;
  stagingWindow?: string;
}): PromotionContext {
  const environment = (name: string, position: number, window?: string) => ({
    id: `env-${name}`,
    name,
    position,
    protected: false,
    soakSeconds: 0,
    windows: window ? [parseWindowSpec(window, 'window')] : [],
  });
  return {
    project: { id: 'p1', name: 'shop' },
    application: { id: 'a1', name: 'web' },
    environments: [environment('dev', 1), environment('staging', 2, o.stagingWindow), environment('prod', 3)],
    edges: [
      { from: 'dev', to: 'staging' },
      { from: 'dev', to: 'prod' },
    ],
    policies: o.policy
      ? {
          staging: {
            name: 'gate',
            version: 2,
            passConditions: [],
            failConditions: [],
            approverCount: 0,
            allowRequestFromApprove: false,
            allowImageBuilderFromApprove: false,
            allowApproverFromDeploy: false,
            allowSkipStages: false,
            ...o.policy,
          },
        }
      : {},
    artifact: {
      id: 'x1',
      digest: DIGEST,
      repository: 'dev/web',
      tag: '2.0',
      labels: {},
      annotations: {},
      created: null,
      platforms: ['linux/amd64'],
      referrers: [],
      scan: null,
      sbom: null,
      build: { builder: 'ci-bot' },
      locations: [{ environment: 'dev', tag: '2.0', since: new Date(NOW.getTime() - 86_400_000) }],
      tags: ['2.0'],
      quarantine: o.quarantined ? { reason: 'CVE', by: 'root', at: NOW } : null,
    },
    deciders: [
      { username: 'pat', role: 'promoter', environments: null },
      { username: 'paula', role: 'promoter', environments: null },
    ],
    webhooks: [],
  };
}

const REQUEST = { id: 'r1', digest: DIGEST, from: 'dev', tag: '2.0', requestedBy: 'devon' };

const target = (environment: string, state: RequestTarget['state'], approvedBy: string[] = []): RequestTarget => ({
  id: `t-${environment}`,
  environment,
  state,
  token: 7,
  windowOverride: false,
  approvedBy,
  decidedBy: approvedBy,
  reason: state === 'FAILED' ? 'PUT manifest failed: ECONNREFUSED' : null,
});

const outcome = (plan: RetryPlan): string =>
  plan.refusal
    ? `${plan.refusal.kind}: ${'message' in plan.refusal ? plan.refusal.message : ''}`
    : JSON.stringify(plan.states);

const user = { username: 'devon', isAdmin: false };

const rows: Array<{
  name: string;
  context: PromotionContext;
  targets: RequestTarget[];
  only?: string[];
  expect: RegExp;
}> = [
  {
    name: 'a FAILED target without a policy is queued',
    context: contextWith({}),
    targets: [target('staging', 'FAILED')],
    expect: /^\{"staging":"QUEUED"\}$/,
  },
  {
    name: 'only the FAILED targets: a PROMOTED one is left alone',
    context: contextWith({}),
    targets: [target('staging', 'FAILED'), target('prod', 'PROMOTED')],
    expect: /^\{"staging":"QUEUED"\}$/,
  },
  {
    name: 'the approval it was given still counts',
    context: contextWith({ policy: { approverCount: 1 } }),
    targets: [target('staging', 'FAILED', ['pat'])],
    expect: /^\{"staging":"QUEUED"\}$/,
  },
  {
    name: 'a policy that now asks for more approvals sends it back to wait for them',
    context: contextWith({ policy: { approverCount: 2 } }),
    targets: [target('staging', 'FAILED', ['pat'])],
    expect: /^\{"staging":"AWAITING_APPROVAL"\}$/,
  },
  {
    name: 'a policy that now refuses the image refuses the retry',
    context: contextWith({ policy: { failConditions: ['image.tag == "2.0"'] } }),
    targets: [target('staging', 'FAILED')],
    expect: /^conflict: cannot retry: staging: /,
  },
  {
    name: 'a quarantined digest refuses the retry',
    context: contextWith({ quarantined: true }),
    targets: [target('staging', 'FAILED')],
    expect: /^conflict: cannot retry: .*quarantined/,
  },
  {
    name: 'a closed promotion window refuses the retry, saying when it opens',
    context: contextWith({ stagingWindow: 'sat,sun 10:00-12:00 UTC' }),
    targets: [target('staging', 'FAILED')],
    expect: /^conflict: cannot retry: staging is outside its promotion windows.*next opens/,
  },
  {
    name: 'nothing FAILED: nothing to retry',
    context: contextWith({}),
    targets: [target('staging', 'QUEUED'), target('prod', 'PROMOTED')],
    expect: /^conflict: request r1 has no FAILED target to retry \(staging QUEUED, prod PROMOTED\)$/,
  },
  {
    name: 'a named target that is not FAILED',
    context: contextWith({}),
    targets: [target('staging', 'FAILED'), target('prod', 'PROMOTED')],
    only: ['prod'],
    expect: /^conflict: prod is PROMOTED: only a FAILED target is retried$/,
  },
  {
    name: 'a named target the request does not have',
    context: contextWith({}),
    targets: [target('staging', 'FAILED')],
    only: ['prod'],
    expect: /^invalid: request r1 has no target prod$/,
  },
];

for (const row of rows)
  test(`planRetry: ${row.name}`, () => {
    const plan = planRetry(row.context, REQUEST, row.targets, user, NOW, row.only);
    assert.match(outcome(plan), row.expect);
    for (const r of plan.targets) assert.equal(r.target.state, 'FAILED');
  });

test('planRetry judges the image as the original requester asked for it, and keeps the fencing token', () => {
  const plan = planRetry(
    contextWith({}),
    REQUEST,
    [target('staging', 'FAILED')],
    { username: 'pat', isAdmin: false },
    NOW,
  );
  const [retried] = plan.targets;
  assert.equal(retried?.target.token, 7);
  assert.equal((retried?.plan.variables.request as { user?: string } | undefined)?.user, 'devon');
});
