/** An environment's Git target in the apply file: parsed with positions, planned (create, update, delete), exported. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config-file.ts';
import { exportState, planApply, type CurrentState, type GitTargetState } from '../../src/config/config-plan.ts';

const FILE = `apiVersion: hoist/v1
projects:
  - name: shop
    applications: [web]
    environments:
      - name: staging
        kind: repository
        registry: local
        repository: staging/{app}
        gitTarget:
          url: https://git.example.com/platform/deploy.git
          branch: main
          path: apps/{app}/staging/kustomization.yaml
          edit: kustomize
          username: hoist
          secretEnv: DEPLOY_TOKEN
      - name: prod
        kind: repository
        registry: local
        repository: prod/{app}
`;

const stateWith = (gitTargets: Record<string, GitTargetState | null>): CurrentState => {
  const env = (name: string, position: number) => ({
    name,
    position,
    kind: 'repository' as const,
    registry: 'local',
    repository: `${name}/{app}`,
    tag: null,
    immutableTags: false,
    allowTagMove: true,
    protected: false,
    soakSeconds: 0,
    windows: [],
  });
  return {
    registries: [],
    watches: [],
    projects: [
      {
        name: 'shop',
        description: '',
        applications: ['web'],
        environments: [env('staging', 0), env('prod', 1)],
        pipeline: [],
        rules: [],
        bindings: [],
        gitTargets,
      },
    ],
  };
};

const HAVE: GitTargetState = {
  url: 'https://git.example.com/platform/deploy.git',
  branch: 'main',
  path: 'apps/{app}/staging/kustomization.yaml',
  edit: 'kustomize',
  key: null,
  image: null,
  newName: null,
  mode: 'push',
  username: 'hoist',
  hasSecret: true,
};

test('a git target in the file: created, then nothing to change, changed fields named, removed when dropped', () => {
  const r = parseConfig(FILE, 'hoist.yaml');
  assert.ok(r.ok, r.ok ? '' : r.error);
  const steps = (s: CurrentState) =>
    planApply(r.value, s, { prune: false })
      .filter((x) => x.kind === 'git-target')
      .map((x) => `${x.op} ${x.name}${x.changes ? ` (${x.changes.join('; ')})` : ''}`);
  assert.deepEqual(steps(stateWith({ staging: null, prod: null })), ['create shop/staging']);
  assert.deepEqual(steps(stateWith({ staging: HAVE, prod: null })), []);
  assert.deepEqual(steps(stateWith({ staging: { ...HAVE, branch: 'release', hasSecret: false }, prod: HAVE })), [
    'update shop/staging (branch: "release" → "main"; secret: set)',
    'delete shop/prod',
  ]);
  const exported = exportState(stateWith({ staging: HAVE, prod: null })).projects[0]?.environments;
  assert.deepEqual(exported?.[0]?.gitTarget, {
    url: HAVE.url,
    branch: 'main',
    path: HAVE.path,
    edit: 'kustomize',
    username: 'hoist',
    secretEnv: 'HOIST_GIT_SHOP_STAGING_SECRET',
  });
  assert.equal(exported?.[1]?.gitTarget, undefined);
});

test('git target problems name the line and column', () => {
  const bad = FILE.replace('edit: kustomize', 'edit: sed').replace(
    'branch: main\n',
    'branch: main\n          colour: red\n',
  );
  const r = parseConfig(bad, 'hoist.yaml');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.match(
    r.error,
    /hoist\.yaml:13:11: projects\[0\]\.environments\[0\]\.gitTarget\.colour: unknown field "colour"/,
  );
  assert.match(
    r.error,
    /hoist\.yaml:15:17: projects\[0\]\.environments\[0\]\.gitTarget\.edit: edit must be kustomize, helm or manifests/,
  );
});
