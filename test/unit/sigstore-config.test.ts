/**
 * Sigstore identities in the apply file: parsed (the trusted_root.json inline), errors at their line, planned by
 * fingerprint (identity and trusted root together), exported so that the export applies back unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/config-file.ts';
import { exportState, planApply, type CurrentState } from '../../src/config/config-plan.ts';
import { sigstoreRootFingerprint } from '../../src/trust/sigstore.ts';
import { GITHUB_ISSUER, startSigstore } from '../harness/sigstore.ts';

const trustedRoot = (await startSigstore()).trustedRoot();
const other = (await startSigstore()).trustedRoot();
const block = (text: string) => text.replace(/\n/g, '\n            ');
const file = (sigstore: string[]) =>
  [
    'apiVersion: hoist/v1',
    'projects:',
    '  - name: shop',
    '    applications: [web]',
    '    trustRoots:',
    '      - name: ci',
    '        sigstore:',
    ...sigstore,
    '',
  ].join('\n');
const identityLines = (root: string, subject = '^https://github\\\\.com/shop/') => [
  `          issuer: ${GITHUB_ISSUER}`,
  `          subjectRegex: "${subject}"`,
  `          trustedRoot: |\n            ${block(root)}`,
];
const state = (roots: NonNullable<CurrentState['projects'][number]['trustRoots']>): CurrentState => ({
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
      trustRoots: roots,
    },
  ],
});

test('a Sigstore identity in the file: parsed, planned by fingerprint, exported and applied back unchanged', () => {
  const spec = parseConfig(file(identityLines(trustedRoot)), 'hoist.yaml');
  assert.ok(spec.ok, spec.ok ? '' : spec.error);
  const root = spec.value.projects[0]?.trustRoots?.[0];
  assert.deepEqual(
    [root?.sigstore?.issuer, root?.sigstore?.subjectRegex],
    [GITHUB_ISSUER, '^https://github\\.com/shop/'],
  );
  const identity = { issuer: GITHUB_ISSUER, subjectRegex: '^https://github\\.com/shop/' };
  const have = (doc: string) =>
    state([
      { name: 'ci', fingerprint: sigstoreRootFingerprint(identity, doc), sigstore: { ...identity, trustedRoot: doc } },
    ]);
  const plan = (current: CurrentState) =>
    planApply(spec.value, current, { prune: false })
      .filter((s) => s.kind === 'trust-root')
      .map((s) => [s.op, s.name]);
  assert.deepEqual(plan(have(trustedRoot)), [], 'the same identity and trusted root: nothing to do');
  assert.deepEqual(plan(have(other)), [['update', 'shop/ci']], 'another trusted root: replaced');
  assert.deepEqual(plan(state([])), [['create', 'shop/ci']]);

  const exported = exportState(have(trustedRoot));
  assert.deepEqual(exported.projects[0]?.trustRoots, [{ name: 'ci', sigstore: { ...identity, trustedRoot } }]);
});

test('a bad identity, trusted root or mix is reported at its line', () => {
  const bad = (lines: string[]) => {
    const r = parseConfig(file(lines), 'hoist.yaml');
    assert.equal(r.ok, false);
    return r.ok ? '' : r.error;
  };
  assert.match(
    bad(identityLines('{"mediaType": "nope"}')),
    /hoist\.yaml:\d+:\d+: .*sigstore\.trustedRoot: not a Sigstore trusted root/,
  );
  assert.match(bad(identityLines(trustedRoot, '(?=x)')), /sigstore\.subjectRegex: lookahead/);
  assert.match(bad(identityLines(trustedRoot).slice(1)), /sigstore\.issuer: name the OIDC issuer/);
  assert.match(
    bad([...identityLines(trustedRoot), '        publicKey: x']),
    /trustRoots\[0\]: a trust root has either publicKey or sigstore/,
  );
});
