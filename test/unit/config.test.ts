import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/config-file.ts';
import { exportState, planApply, type CurrentState } from '../../src/config/config-plan.ts';

const example = readFileSync(new URL('../../examples/hoist.yaml', import.meta.url), 'utf8');

test('the example file parses', () => {
  const r = parseConfig(example, 'examples/hoist.yaml');
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(
    r.value.projects.map((p) => [p.name, p.environments.length, p.pipeline.length]),
    [
      ['shop', 3, 2],
      ['tools', 2, 1],
    ],
  );
});

test('problems name the file, line and column', () => {
  const text = [
    'apiVersion: hoist/v1',
    'projects:',
    '  - name: shop',
    '    colour: blue',
    '    environments:',
    '      - name: dev',
    '        kind: cloud',
    '        registry: local',
    '        repository: dev/{app}',
    '    pipeline:',
    '      - dev -> moon',
    '      - nonsense',
  ].join('\n');
  const r = parseConfig(text, 'hoist.yaml');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.error.split('\n'), [
    'hoist.yaml:4:5: projects[0].colour: unknown field "colour" (known: name, description, namespaces, applications, environments, pipeline, rules, bindings, trustRoots)',
    'hoist.yaml:7:15: projects[0].environments[0].kind: kind must be repository or tag',
    'hoist.yaml:11:9: projects[0].pipeline[0]: no environment "moon" in project "shop"',
    'hoist.yaml:12:9: projects[0].pipeline[1]: an edge is written "from -> to"',
  ]);
  const broken = parseConfig('projects:\n  - name: [unclosed\n', 'bad.yaml');
  assert.equal(broken.ok, false);
  if (!broken.ok) assert.match(broken.error, /^bad\.yaml:\d+:\d+: /);
});

test('the plan creates what is missing, updates what differs, deletes what a declared project no longer has', () => {
  const spec = parseConfig(example, 'f');
  assert.ok(spec.ok);
  const empty: CurrentState = { registries: [], projects: [], watches: [] };
  const first = planApply(spec.value, empty, { prune: false });
  assert.deepEqual(
    first.slice(0, 3).map((s) => `${s.op} ${s.kind} ${s.name}`),
    ['create registry local', 'create registry prod-registry', 'create project shop'],
  );
  assert.equal(first.filter((s) => s.kind === 'environment').length, 5);

  const current: CurrentState = {
    registries: [
      {
        name: 'local',
        url: '127.0.0.1:5000',
        insecure: true,
        username: null,
        hasSecret: false,
        pollBudget: 10,
        createdAt: '',
        updatedAt: '',
      },
      {
        name: 'prod-registry',
        url: '127.0.0.1:5001',
        insecure: true,
        username: null,
        hasSecret: false,
        pollBudget: 10,
        createdAt: '',
        updatedAt: '',
      },
      {
        name: 'old',
        url: 'x:1',
        insecure: false,
        username: null,
        hasSecret: false,
        pollBudget: 10,
        createdAt: '',
        updatedAt: '',
      },
    ],
    projects: [
      {
        name: 'shop',
        description: 'The web shop',
        applications: ['web', 'api', 'legacy'],
        environments: [
          {
            name: 'dev',
            position: 0,
            kind: 'repository',
            registry: 'local',
            repository: 'dev/{app}',
            tag: null,
            immutableTags: false,
            allowTagMove: true,
            protected: false,
            soakSeconds: 0,
            windows: [],
          },
          {
            name: 'staging',
            position: 1,
            kind: 'repository',
            registry: 'local',
            repository: 'staging/{app}',
            tag: null,
            immutableTags: false,
            allowTagMove: true,
            protected: false,
            soakSeconds: 0,
            windows: [],
          },
          {
            name: 'prod',
            position: 2,
            kind: 'repository',
            registry: 'prod-registry',
            repository: 'prod/{app}',
            tag: null,
            immutableTags: false,
            allowTagMove: true,
            protected: true,
            soakSeconds: 0,
            windows: [],
          },
          {
            name: 'qa',
            position: 3,
            kind: 'repository',
            registry: 'local',
            repository: 'qa/{app}',
            tag: null,
            immutableTags: false,
            allowTagMove: true,
            protected: false,
            soakSeconds: 0,
            windows: [],
          },
        ],
        pipeline: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
        ],
        rules: [],
        bindings: [],
      },
    ],
    watches: [],
  };
  const steps = planApply({ ...spec.value, projects: spec.value.projects.slice(0, 1) }, current, { prune: true });
  assert.deepEqual(
    steps.map((s) => `${s.op} ${s.kind} ${s.name}${s.changes ? ` ${s.changes.join('; ')}` : ''}`),
    [
      'create namespace shop local/dev/',
      'create namespace shop local/staging/',
      'create namespace shop prod-registry/prod/',
      'update environment shop/prod immutableTags: false → true',
      'create rule shop/releases',
      'delete environment shop/qa',
      'delete application shop/legacy',
      'delete registry old',
    ],
  );
  // Export and re-plan: nothing to do.
  const round = exportState({ ...current, registries: current.registries.slice(0, 2) });
  assert.deepEqual(planApply(round, { ...current, registries: current.registries.slice(0, 2) }, { prune: true }), []);
});

test('automation in the file: soak, windows, rules, bindings and watches parse, are checked where they are written, and plan', () => {
  const text = [
    'apiVersion: hoist/v1',
    'watches:',
    '  - repository: quiet/edge/web',
    '    interval: 2m',
    'projects:',
    '  - name: shop',
    '    applications: [web]',
    '    environments:',
    '      - {name: dev, kind: repository, registry: local, repository: "dev/{app}", soak: 1h30m}',
    '      - {name: prod, kind: repository, registry: local, repository: "prod/{app}", windows: ["mon-fri 09:00-17:00 Europe/Berlin"]}',
    '    pipeline: [dev -> prod]',
    '    rules:',
    '      - {name: ship, from: dev, to: prod, criteria: ["tag startsWith v", "critical <= 0", "label team=shop"], tagTemplate: "%n-%Y%m%d", mode: request}',
    '    bindings:',
    '      - {application: web, environment: prod, pin: "sha256:' + 'a'.repeat(64) + '"}',
  ].join('\n');
  const r = parseConfig(text, 'f.yaml');
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.equal(r.value.projects[0]?.environments[0]?.soakSeconds, 5400);
  const steps = planApply(r.value, { registries: [], projects: [], watches: [] }, { prune: false });
  assert.deepEqual(
    steps.filter((s) => ['rule', 'binding', 'watch'].includes(s.kind)).map((s) => `${s.op} ${s.kind} ${s.name}`),
    ['create rule shop/ship', 'create binding shop/web/prod', 'create watch quiet/edge/web'],
  );

  const bad = parseConfig(
    text
      .replace('tag startsWith v', 'tag like v')
      .replace('%n-%Y%m%d', 'x/%n')
      .replace('1h30m', 'soon')
      .replace('mon-fri', 'someday'),
    'f.yaml',
  );
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.match(bad.error, /f\.yaml:9:\d+: projects\[0\]\.environments\[0\]\.soak: .*"soon" is not a duration/);
    assert.match(bad.error, /projects\[0\]\.environments\[1\]\.windows\[0\]/);
    assert.match(bad.error, /projects\[0\]\.rules\[0\]\.criteria\[0\]/);
    assert.match(bad.error, /projects\[0\]\.rules\[0\]\.tagTemplate/);
  }
});
