/**
 * The project board as tables, without a database: planBoard (what a cell holds and who brought it, bindings, soak,
 * windows, unfinished requests with approvals, a newer build upstream by pipeline edge or by stage order) and the
 * order of rows and cells.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnvironmentFacts } from '../../src/promotion/context.ts';
import {
  planBoard,
  upstreamOf,
  type BoardFacts,
  type HoldingFacts,
  type PendingFacts,
} from '../../src/promotion/board.ts';

const NOW = new Date('2026-12-02T12:00:00Z'); // a Wednesday
const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const minutesAgo = (m: number): Date => new Date(NOW.getTime() - m * 60_000);

const env = (name: string, position: number, extra: Partial<EnvironmentFacts> = {}): EnvironmentFacts => ({
  id: `env-${name}`,
  name,
  position,
  protected: false,
  soakSeconds: 0,
  windows: [],
  ...extra,
});

const held = (app: string, environment: string, extra: Partial<HoldingFacts> = {}): HoldingFacts => ({
  applicationId: `app-${app}`,
  environmentId: `env-${environment}`,
  digest: digest('a'),
  tag: '1.0',
  since: minutesAgo(60),
  created: null,
  registeredAt: minutesAgo(120),
  registeredBy: 'ci',
  request: null,
  quarantine: null,
  ...extra,
});

const pendingAt = (environment: string, extra: Partial<PendingFacts> = {}): PendingFacts => ({
  applicationId: 'app-web',
  environmentId: `env-${environment}`,
  request: 'r1',
  state: 'AWAITING_APPROVAL',
  digest: digest('a'),
  tag: '1.0',
  requestedBy: 'pat',
  requestedAt: minutesAgo(5),
  approvalsHave: 1,
  approvalsNeeded: 2,
  ...extra,
});

function facts(over: Partial<BoardFacts> = {}, envExtra: Record<string, Partial<EnvironmentFacts>> = {}): BoardFacts {
  return {
    project: 'shop',
    environments: [env('dev', 1, envExtra.dev), env('staging', 2, envExtra.staging), env('prod', 3, envExtra.prod)],
    edges: [
      { from: 'dev', to: 'staging' },
      { from: 'staging', to: 'prod' },
    ],
    applications: [{ id: 'app-web', name: 'web' }],
    holdings: [],
    bindings: [],
    pending: [],
    ...over,
  };
}

const cellOf = (f: BoardFacts, environment: string, app = 'web', now = NOW) => {
  const board = planBoard(f, now);
  const cell = board.applications.find((a) => a.name === app)?.cells.find((c) => c.environment === environment);
  assert.ok(cell, `${app}/${environment}`);
  return cell;
};

describe('planBoard', () => {
  test('one row per application, one cell per environment in pipeline order; empty cells say nothing is held', () => {
    const board = planBoard(
      facts({
        applications: [
          { id: 'app-api', name: 'api' },
          { id: 'app-web', name: 'web' },
        ],
      }),
      NOW,
    );
    assert.deepEqual(
      board.applications.map((a) => [a.name, a.cells.map((c) => c.environment)]),
      [
        ['api', ['dev', 'staging', 'prod']],
        ['web', ['dev', 'staging', 'prod']],
      ],
    );
    assert.deepEqual(board.applications[0]?.cells[0], {
      environment: 'dev',
      current: null,
      binding: null,
      soak: null,
      window: { open: true, opensAt: null, timeZone: null },
      pending: [],
      newerUpstream: null,
    });
    assert.equal(board.at, NOW.toISOString());
    assert.deepEqual(board.edges, facts().edges);
  });

  test('what a cell holds: digest, tag, since; by the requester of the promotion that brought it, else the registrar', () => {
    const f = facts({
      holdings: [
        held('web', 'dev'),
        held('web', 'staging', { request: { id: 'r7', requestedBy: 'pat' }, since: minutesAgo(30) }),
      ],
    });
    assert.deepEqual(cellOf(f, 'dev').current, {
      digest: digest('a'),
      tag: '1.0',
      since: minutesAgo(60).toISOString(),
      by: 'ci',
      request: null,
      quarantine: null,
    });
    assert.deepEqual(cellOf(f, 'staging').current?.by, 'pat');
    assert.deepEqual(cellOf(f, 'staging').current?.request, 'r7');
    assert.equal(cellOf(f, 'prod').current, null);
  });

  test('a quarantined digest says so in the cell', () => {
    const f = facts({
      holdings: [held('web', 'dev', { quarantine: { reason: 'CVE', by: 'root', at: minutesAgo(1) } })],
    });
    assert.deepEqual(cellOf(f, 'dev').current?.quarantine, {
      reason: 'CVE',
      by: 'root',
      at: minutesAgo(1).toISOString(),
    });
  });

  test('bindings: track-latest, or pinned with the digest; none where no binding is set', () => {
    const f = facts({
      bindings: [
        {
          applicationId: 'app-web',
          environmentId: 'env-staging',
          mode: 'track-latest',
          pinnedDigest: null,
          updatedBy: 'olga',
          updatedAt: minutesAgo(9),
        },
        {
          applicationId: 'app-web',
          environmentId: 'env-prod',
          mode: 'pin',
          pinnedDigest: digest('b'),
          updatedBy: 'olga',
          updatedAt: minutesAgo(8),
        },
      ],
    });
    assert.equal(cellOf(f, 'dev').binding, null);
    assert.deepEqual(cellOf(f, 'staging').binding, {
      mode: 'track-latest',
      pinnedDigest: null,
      updatedBy: 'olga',
      updatedAt: minutesAgo(9).toISOString(),
    });
    assert.equal(cellOf(f, 'prod').binding?.mode, 'pin');
    assert.equal(cellOf(f, 'prod').binding?.pinnedDigest, digest('b'));
  });

  const soakCases: Array<[string, number, number, { until: string; soaking: boolean } | null]> = [
    ['no soak time', 0, 10, null],
    [
      'arrived 10 min ago, soaks 1 h: soaking for 50 min more',
      3600,
      10,
      { until: minutesAgo(-50).toISOString(), soaking: true },
    ],
    ['arrived 2 h ago, soaks 1 h: soaked', 3600, 120, { until: minutesAgo(60).toISOString(), soaking: false }],
    ['soak ends right now: soaked', 600, 10, { until: NOW.toISOString(), soaking: false }],
  ];
  for (const [name, soakSeconds, arrived, expected] of soakCases)
    test(`soak: ${name}`, () => {
      const f = facts(
        { holdings: [held('web', 'staging', { since: minutesAgo(arrived) })] },
        { staging: { soakSeconds } },
      );
      assert.deepEqual(cellOf(f, 'staging').soak, expected);
      assert.equal(cellOf(f, 'prod').soak, null, 'nothing held: no soak');
    });

  test('windows: open with none or inside one; closed outside with the next opening', () => {
    const weekdays = { days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, timeZone: 'UTC' };
    const f = facts(
      {},
      {
        staging: { windows: [{ ...weekdays, days: [...weekdays.days], start: '09:00', end: '17:00' }] },
        prod: { windows: [{ ...weekdays, days: [...weekdays.days], start: '14:00', end: '15:00' }] },
      },
    );
    assert.deepEqual(cellOf(f, 'dev').window, { open: true, opensAt: null, timeZone: null });
    assert.deepEqual(cellOf(f, 'staging').window, { open: true, opensAt: null, timeZone: null });
    assert.deepEqual(cellOf(f, 'prod').window, { open: false, opensAt: '2026-12-02T14:00:00.000Z', timeZone: 'UTC' });
    const board = planBoard(f, NOW);
    assert.deepEqual(board.environments.find((e) => e.name === 'prod')?.windows, ['mon-fri 14:00-15:00 UTC']);
  });

  test('pending: unfinished targets oldest first, approvals have/need only while awaiting approval', () => {
    const f = facts({
      pending: [
        pendingAt('prod', { request: 'r2', state: 'QUEUED', requestedAt: minutesAgo(1) }),
        pendingAt('prod', { request: 'r1', requestedAt: minutesAgo(3) }),
        pendingAt('prod', { request: 'r0', state: 'PROMOTED', requestedAt: minutesAgo(4) }),
        pendingAt('staging', { request: 'r3', state: 'PROMOTING' }),
      ],
    });
    assert.deepEqual(
      cellOf(f, 'prod').pending.map((p) => [p.request, p.state, p.approvals]),
      [
        ['r1', 'AWAITING_APPROVAL', { have: 1, need: 2 }],
        ['r2', 'QUEUED', null],
      ],
    );
    assert.deepEqual(cellOf(f, 'prod').pending[0], {
      request: 'r1',
      state: 'AWAITING_APPROVAL',
      digest: digest('a'),
      tag: '1.0',
      requestedBy: 'pat',
      requestedAt: minutesAgo(3).toISOString(),
      approvals: { have: 1, need: 2 },
    });
    assert.deepEqual(
      cellOf(f, 'staging').pending.map((p) => p.state),
      ['PROMOTING'],
    );
    assert.deepEqual(cellOf(f, 'dev').pending, []);
  });

  const A = { digest: digest('a'), registeredAt: minutesAgo(300) };
  const B = { digest: digest('b'), registeredAt: minutesAgo(100) };
  const upstreamCases: Array<[string, Partial<HoldingFacts> | null, Partial<HoldingFacts> | null, boolean]> = [
    ['staging empty, dev holds a build', A, null, true],
    ['the same digest in both', A, A, false],
    ['dev holds a newer build (registered later)', B, A, true],
    ['dev holds an older build than staging (a hotfix went straight on)', A, B, false],
    ['dev empty', null, A, false],
    ['dev holds a newer build, quarantined', { ...B, quarantine: { reason: 'CVE', by: 'root', at: NOW } }, A, false],
    [
      'the image created time wins over registration',
      { ...A, created: new Date('2026-12-01T00:00:00Z') },
      { ...B, created: new Date('2026-11-01T00:00:00Z') },
      true,
    ],
  ];
  for (const [name, dev, staging, expected] of upstreamCases)
    test(`newer build upstream: ${name} → ${expected}`, () => {
      const holdings = [
        ...(dev ? [held('web', 'dev', { ...dev, since: minutesAgo(20) })] : []),
        ...(staging ? [held('web', 'staging', staging)] : []),
      ];
      const cell = cellOf(facts({ holdings }, { dev: { soakSeconds: 3600 } }), 'staging');
      assert.equal(cell.newerUpstream !== null, expected, JSON.stringify(cell.newerUpstream));
      if (expected)
        assert.deepEqual(cell.newerUpstream, {
          environment: 'dev',
          digest: dev?.digest,
          tag: '1.0',
          since: minutesAgo(20).toISOString(),
          soakedAt: minutesAgo(-40).toISOString(),
          soaking: true,
        });
    });

  test('upstream follows the pipeline edges (the newest of several sources), else the stage before', () => {
    const environments = [env('dev', 1), env('qa', 2), env('hotfix', 3), env('prod', 4)];
    const edges = [
      { from: 'dev', to: 'prod' },
      { from: 'hotfix', to: 'prod' },
    ];
    const names = (m: Map<string, EnvironmentFacts[]>, e: string) => (m.get(e) ?? []).map((x) => x.name);
    const up = upstreamOf(environments, edges);
    assert.deepEqual(names(up, 'prod'), ['hotfix', 'dev']);
    assert.deepEqual(names(up, 'qa'), ['dev'], 'no edge into qa: the stage before');
    assert.deepEqual(names(up, 'dev'), []);
    const f = facts({
      environments,
      edges,
      holdings: [
        held('web', 'dev', { digest: digest('b'), registeredAt: minutesAgo(50) }),
        held('web', 'hotfix', { digest: digest('c'), registeredAt: minutesAgo(40) }),
        held('web', 'qa', { digest: digest('d'), registeredAt: minutesAgo(10) }),
        held('web', 'prod', { digest: digest('a'), registeredAt: minutesAgo(200) }),
      ],
    });
    const prod = cellOf(f, 'prod');
    assert.equal(prod.newerUpstream?.environment, 'hotfix', 'qa holds the newest build, but no edge leads from qa');
    assert.equal(prod.newerUpstream?.digest, digest('c'));
  });

  test('cells of different applications do not mix', () => {
    const f = facts({
      applications: [
        { id: 'app-api', name: 'api' },
        { id: 'app-web', name: 'web' },
      ],
      holdings: [held('api', 'dev', { digest: digest('e') }), held('web', 'staging')],
      pending: [pendingAt('prod', { applicationId: 'app-api' })],
    });
    assert.equal(cellOf(f, 'dev', 'api').current?.digest, digest('e'));
    assert.equal(cellOf(f, 'dev', 'web').current, null);
    assert.equal(cellOf(f, 'staging', 'api').newerUpstream?.digest, digest('e'));
    assert.equal(cellOf(f, 'staging', 'web').newerUpstream, null);
    assert.equal(cellOf(f, 'prod', 'api').pending.length, 1);
    assert.equal(cellOf(f, 'prod', 'web').pending.length, 0);
  });
});
