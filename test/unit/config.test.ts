import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/config-file.ts';
import { exportState, planApply, type CurrentState } from '../../src/config/config-plan.ts';

const example = readFileSync(new URL('../../examples/hoist.yaml', import.meta.url), 'utf8');

test('the example file parses', () => {
  const r = parseConfig(example, 'examples/hoist.yaml');
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.value.projects.map((p) => [p.name, p.environments.length, p.pipeline.length]), [['shop', 3, 2], ['tools', 2, 1]]);
});

test('problems name the file, line and column', () => {
  const text = ['apiVersion: hoist/v1', 'projects:', '  - name: shop', '    colour: blue', '    environments:', '      - name: dev', '        kind: cloud', '        registry: local', '        repository: dev/{app}', '    pipeline:', '      - dev -> moon', '      - nonsense'].join('\n');
  const r = parseConfig(text, 'hoist.yaml');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    r.error.split('\n'),
    [
      'hoist.yaml:4:5: projects[0].colour: unknown field "colour" (known: name, description, applications, environments, pipeline)',
      'hoist.yaml:7:15: projects[0].environments[0].kind: kind must be repository or tag',
      'hoist.yaml:11:9: projects[0].pipeline[0]: no environment "moon" in project "shop"',
      'hoist.yaml:12:9: projects[0].pipeline[1]: an edge is written "from -> to"',
    ],
  );
  const broken = parseConfig('projects:\n  - name: [unclosed\n', 'bad.yaml');
  assert.equal(broken.ok, false);
  if (!broken.ok) assert.match(broken.error, /^bad\.yaml:\d+:\d+: /);
});

test('the plan creates what is missing, updates what differs, deletes what a declared project no longer has', () => {
  const spec = parseConfig(example, 'f');
  assert.ok(spec.ok);
  const empty: CurrentState = { registries: [], projects: [] };
  const first = planApply(spec.value, empty, { prune: false });
  assert.deepEqual(first.slice(0, 3).map((s) => `${s.op} ${s.kind} ${s.name}`), ['create registry local', 'create project shop', 'create application shop/web']);
  assert.equal(first.filter((s) => s.kind === 'environment').length, 5);

  const current: CurrentState = {
    registries: [{ name: 'local', url: '127.0.0.1:5000', insecure: true, username: null, hasSecret: false, createdAt: '', updatedAt: '' }, { name: 'old', url: 'x:1', insecure: false, username: null, hasSecret: false, createdAt: '', updatedAt: '' }],
    projects: [
      {
        name: 'shop',
        description: 'The web shop',
        applications: ['web', 'api', 'legacy'],
        environments: [
          { name: 'dev', position: 0, kind: 'repository', registry: 'local', repository: 'dev/{app}', tag: null, immutableTags: false, allowTagMove: true, protected: false },
          { name: 'staging', position: 1, kind: 'repository', registry: 'local', repository: 'staging/{app}', tag: null, immutableTags: false, allowTagMove: true, protected: false },
          { name: 'prod', position: 2, kind: 'repository', registry: 'local', repository: 'prod/{app}', tag: null, immutableTags: false, allowTagMove: true, protected: true },
          { name: 'qa', position: 3, kind: 'repository', registry: 'local', repository: 'qa/{app}', tag: null, immutableTags: false, allowTagMove: true, protected: false },
        ],
        pipeline: [{ from: 'dev', to: 'staging' }, { from: 'staging', to: 'prod' }],
      },
    ],
  };
  const steps = planApply({ ...spec.value, projects: spec.value.projects.slice(0, 1) }, current, { prune: true });
  assert.deepEqual(
    steps.map((s) => `${s.op} ${s.kind} ${s.name}${s.changes ? ` ${s.changes.join('; ')}` : ''}`),
    ['update environment shop/prod immutableTags: false → true', 'delete environment shop/qa', 'delete application shop/legacy', 'delete registry old'],
  );
  // Export and re-plan: nothing to do.
  const round = exportState({ ...current, registries: current.registries.slice(0, 1) });
  assert.deepEqual(planApply(round, { ...current, registries: current.registries.slice(0, 1) }, { prune: true }), []);
});
