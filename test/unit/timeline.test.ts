/**
 * A target's timeline from its request's audit entries and decisions (src/promotion/timeline.ts), without a database:
 * each kind of entry, only the target's own steps, time order with decisions merged in, and entries it does not know.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { targetTimeline, type RequestAuditEntry } from '../../src/promotion/timeline.ts';

const at = (s: number) => new Date(Date.UTC(2026, 11, 4, 9, 0, s));
const entry = (s: number, actor: string, action: string, summary: unknown): RequestAuditEntry => ({
  at: at(s),
  actor,
  action,
  summary,
});

test('a request with approvals, a re-evaluation, a failure, a retry, the copy and the GitOps write-back', () => {
  const entries = [
    entry(0, 'devon', 'promotion.request', { states: { staging: 'AWAITING_APPROVAL', prod: 'REJECTED' } }),
    entry(5, 'root', 'promotion.reevaluate', {
      policy: 'gate',
      states: { staging: { before: 'AWAITING_APPROVAL', after: 'AWAITING_APPROVAL' } },
    }),
    entry(20, 'hoist', 'promotion.failed', { environment: 'staging', error: 'registry answered 503', attempts: 8 }),
    entry(30, 'pat', 'promotion.retry', {
      states: { staging: 'QUEUED' },
      failed: { staging: 'registry answered 503' },
    }),
    entry(33, 'hoist', 'promotion.promoted', {
      environment: 'staging',
      tag: '1.0',
      bytesStreamed: 2048,
      blobsMounted: 2,
      seconds: 1.5,
      startedAt: at(31.5).toISOString(),
    }),
    // Another target's steps are not this one's.
    entry(34, 'hoist', 'promotion.promoted', { environment: 'prod', bytesStreamed: 1, seconds: 0 }),
    entry(35, 'hoist', 'promotion.gitops', { environment: 'staging', commit: 'abc123', committed: true }),
    entry(36, 'someone', 'promotion.something-new', { environment: 'staging' }),
  ];
  const steps = targetTimeline('staging', entries, [
    { username: 'pat', decision: 'approve', comment: 'ok', at: at(10).toISOString() },
  ]);
  assert.deepEqual(
    steps.map((s) => [s.step, s.by, s.state, s.detail]),
    [
      ['requested', 'devon', 'AWAITING_APPROVAL', ''],
      ['reevaluated', 'root', 'AWAITING_APPROVAL', 'policy gate changed: AWAITING_APPROVAL → AWAITING_APPROVAL'],
      ['approved', 'pat', null, 'ok'],
      ['failed', 'hoist', 'FAILED', 'registry answered 503'],
      ['retried', 'pat', 'QUEUED', 'it had failed: registry answered 503'],
      ['promoting', 'hoist', 'PROMOTING', ''],
      ['promoted', 'hoist', 'PROMOTED', 'tag 1.0 written, 2 blobs mounted'],
      ['gitops', 'hoist', null, 'committed abc123'],
    ],
  );
  assert.equal(steps[5]!.at, at(31.5).toISOString());
  assert.equal(steps[6]!.bytesCopied, 2048);
  assert.deepEqual(
    targetTimeline('prod', entries, []).map((s) => [s.step, s.state]),
    [
      ['requested', 'REJECTED'],
      ['promoting', 'PROMOTING'],
      ['promoted', 'PROMOTED'],
    ],
  );
});

test('automation, an admin window override, a rejection, a cancel and a refusal at run time', () => {
  const automated = targetTimeline(
    'staging',
    [entry(0, 'hoist', 'promotion.request', { states: { staging: 'QUEUED' }, automation: 'rule:auto-staging' })],
    [],
  );
  assert.deepEqual(automated[0]!.detail, 'by automation (rule:auto-staging)');
  const override = targetTimeline(
    'prod',
    [entry(0, 'root', 'promotion.request', { states: { prod: 'QUEUED' }, windowOverride: true })],
    [],
  );
  assert.equal(override[0]!.detail, 'outside the promotion windows (admin override)');
  const rejected = targetTimeline(
    'prod',
    [entry(0, 'devon', 'promotion.request', { states: { prod: 'AWAITING_APPROVAL' } })],
    [{ username: 'rita', decision: 'reject', comment: 'not on a Friday', at: at(9).toISOString() }],
  );
  assert.deepEqual(rejected.at(-1), {
    at: at(9).toISOString(),
    step: 'rejected',
    by: 'rita',
    state: 'REJECTED',
    detail: 'not on a Friday',
  });
  const canceled = targetTimeline(
    'prod',
    [
      entry(0, 'devon', 'promotion.request', JSON.stringify({ states: { prod: 'AWAITING_APPROVAL' } })),
      entry(1, 'devon', 'promotion.cancel', { canceled: ['prod'] }),
    ],
    [],
  );
  assert.deepEqual(
    canceled.map((s) => [s.step, s.state]),
    [
      ['requested', 'AWAITING_APPROVAL'],
      ['canceled', 'CANCELED'],
    ],
  );
  const refused = targetTimeline(
    'staging',
    [entry(2, 'hoist', 'promotion.refused', { environment: 'staging', reason: 'quarantined by root: CVE' })],
    [],
  );
  assert.deepEqual(
    refused.map((s) => [s.step, s.state, s.detail]),
    [['refused', 'REJECTED', 'quarantined by root: CVE']],
  );
});

test('a release promotion without startedAt starts its copy `seconds` before it ended; odd summaries make no steps', () => {
  const steps = targetTimeline(
    'prod',
    [
      entry(10, 'hoist', 'promotion.promoted', { environment: 'prod', bytesStreamed: 5, seconds: 4 }),
      entry(11, 'x', 'promotion.request', null),
      entry(12, 'x', 'promotion.reevaluate', { states: { prod: { before: 'QUEUED', after: 'NOT-A-STATE' } } }),
      entry(13, 'x', 'promotion.cancel', { canceled: 'prod' }),
    ],
    [],
  );
  assert.deepEqual(
    steps.map((s) => [s.step, s.at]),
    [
      ['promoting', at(6).toISOString()],
      ['promoted', at(10).toISOString()],
    ],
  );
});
