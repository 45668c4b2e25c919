/** Trust roots in the apply file: parsed with positions, planned by fingerprint, exported; absent means untouched. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config-file.ts';
import { exportState, planApply, type CurrentState } from '../../src/config/config-plan.ts';
import { parsePublicKey } from '../../src/trust/keys.ts';
import { generateKey } from '../harness/cosign.ts';

const release = generateKey('ecdsa');
const ci = generateKey('ed25519');
const indent = (pem: string) => pem.trim().replace(/\n/g, '\n          ');
const file = (roots: string) =>
  ['apiVersion: hoist/v1', 'projects:', '  - name: shop', '    applications: [web]', roots].join('\n');
const fingerprint = (pem: string) => {
  const k = parsePublicKey(pem);
  assert.ok(k.ok);
  return k.value.fingerprint;
};
const state = (roots: NonNullable<CurrentState['projects'][number]['trustRoots']> | undefined): CurrentState => ({
  registries: [],
  watches: [],
  projects: [
    {
      name: 'shop',
      description: '',
      applications: ['web'],
      environments: [],
      pipeline: [],
      rules: [],
      bindings: [],
      ...(roots ? { trustRoots: roots } : {}),
    },
  ],
});

test('trust roots in the file: parsed; a bad key or name is reported at its line', () => {
  const good = parseConfig(
    file(`    trustRoots:\n      - name: release-key\n        publicKey: |\n          ${indent(release.publicPem)}\n`),
    'hoist.yaml',
  );
  assert.ok(good.ok, good.ok ? '' : good.error);
  assert.equal(good.value.projects[0]?.trustRoots?.[0]?.name, 'release-key');
  assert.equal(fingerprint(good.value.projects[0]?.trustRoots?.[0]?.publicKey ?? ''), fingerprint(release.publicPem));
  const bad = parseConfig(file('    trustRoots:\n      - name: Bad_Name\n        publicKey: nope\n'), 'hoist.yaml');
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  assert.match(bad.error, /hoist\.yaml:6:\d+: projects\[0\]\.trustRoots\[0\]\.name/);
  assert.match(bad.error, /hoist\.yaml:7:\d+: projects\[0\]\.trustRoots\[0\]\.publicKey: not a PEM public key/);
});

test('the plan: add, replace by fingerprint, remove what the file does not list; no trustRoots leaves them alone', () => {
  const spec = parseConfig(
    file(
      [
        '    trustRoots:',
        '      - name: release-key',
        `        publicKey: |\n          ${indent(release.publicPem)}`,
        '      - name: ci-key',
        `        publicKey: |\n          ${indent(ci.publicPem)}`,
        '',
      ].join('\n'),
    ),
    'hoist.yaml',
  );
  assert.ok(spec.ok, spec.ok ? '' : spec.error);
  const steps = planApply(
    spec.value,
    state([
      { name: 'release-key', fingerprint: fingerprint(release.publicPem), publicKey: release.publicPem },
      { name: 'ci-key', fingerprint: 'f'.repeat(64), publicKey: release.publicPem },
      { name: 'old-key', fingerprint: 'e'.repeat(64), publicKey: release.publicPem },
    ]),
    { prune: false },
  ).filter((s) => s.kind === 'trust-root');
  assert.deepEqual(
    steps.map((s) => [s.op, s.name]),
    [
      ['update', 'shop/ci-key'],
      ['delete', 'shop/old-key'],
    ],
  );
  const untouched = parseConfig(file(''), 'hoist.yaml');
  assert.ok(untouched.ok);
  assert.deepEqual(
    planApply(untouched.value, state([{ name: 'k', fingerprint: 'e'.repeat(64), publicKey: '' }]), {
      prune: false,
    }).filter((s) => s.kind === 'trust-root'),
    [],
  );
  const exported = exportState(
    state([{ name: 'release-key', fingerprint: fingerprint(release.publicPem), publicKey: release.publicPem }]),
  );
  assert.deepEqual(exported.projects[0]?.trustRoots, [{ name: 'release-key', publicKey: release.publicPem }]);
});
