import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCondition } from '../../src/policy/condition.ts';
import { evaluatePolicy } from '../../src/policy/evaluate.ts';
import { policyVariables } from '../../src/policy/inputs.ts';
import { VARIABLES } from '../../src/policy/variables.ts';

const vars = policyVariables({
  image: {
    repository: 'shop/web',
    tag: 'v1.2.3',
    digest: `sha256:${'a'.repeat(64)}`,
    labels: { team: 'shop' },
    created: new Date('2026-11-01T00:00:00Z'),
    platforms: ['linux/amd64', 'linux/arm64'],
  },
  build: { branch: 'main', commit: 'c0ffee', builder: 'ci-bot' },
  scan: { critical: 0, high: 2, medium: 5, low: 9 },
  sbom: { licenses: ['MIT', 'Apache-2.0'], components: ['openssl', 'zlib'] },
  signaturePresent: true,
  source: 'staging',
  target: 'prod',
  user: 'alice',
  now: new Date('2026-11-22T10:00:00Z'),
});

test('every catalogued variable type-checks, and its example runs against real values', () => {
  for (const v of VARIABLES) {
    const c = compileCondition(v.example);
    assert.ok(c.ok, `${v.name}: ${c.ok ? '' : c.error}`);
    assert.equal(typeof c.value.run(vars), 'boolean', v.example);
  }
});

test('conditions see the image, build, scan, SBOM, signature, environments, user, time and Devtron aliases', () => {
  const cases: Array<[string, boolean]> = [
    ['image.tag.startsWith("v") && image.labels["team"] == "shop"', true],
    ['scan.present && scan.critical == 0 && scan.high <= 3', true],
    ['"MIT" in sbom.licenses && !sbom.components.exists(c, c == "log4j")', true],
    ['signature.present && source.environment == "staging" && target.environment == "prod"', true],
    ['request.user != build.builder', true],
    ['now - image.created > duration("240h")', true],
    ['"linux/arm64" in image.platforms', true],
    ['containerImage == "shop/web:v1.2.3" && containerImageTag == "v1.2.3" && containerRepository == "shop/web"', true],
    ['"team=shop" in imageLabels && gitCommitDetails["branch"] == "main"', true],
    ['image.tag.matches("^v[0-9]+$")', false],
  ];
  for (const [expr, want] of cases) {
    const c = compileCondition(expr);
    assert.ok(c.ok, `${expr}: ${c.ok ? '' : c.error}`);
    assert.equal(c.value.run(vars), want, expr);
  }
});

test('compile errors name the line and column', () => {
  const syntax = compileCondition('image.tag == "v1" &&\n   && scan.high < 3');
  assert.equal(syntax.ok, false);
  assert.deepEqual(syntax.problem && [syntax.problem.line, syntax.problem.column], [2, 4]);
  const unknown = compileCondition('image.tagg == "v1"');
  assert.equal(unknown.ok, false);
  assert.match(unknown.ok ? '' : unknown.error, /^line 1, column \d+: .*tagg/);
  const types = compileCondition('scan.high == "3"');
  assert.equal(types.ok, false);
  const notBool = compileCondition('scan.high + 1');
  assert.match(notBool.ok ? '' : notBool.error, /not a bool/);
  assert.match(compileCondition('   ').ok ? '' : 'empty', /empty/);
});

test('fail wins over pass, every condition is evaluated, no conditions allows, errors deny with the reason', () => {
  assert.deepEqual(evaluatePolicy({ pass: [], fail: [] }, vars), { allowed: true, reasons: [], conditions: [] });
  const v = evaluatePolicy(
    { pass: ['scan.critical == 0', 'build.branch == "main"'], fail: ['scan.high > 1', 'image.tag == "latest"'] },
    vars,
  );
  assert.equal(v.allowed, false);
  assert.deepEqual(v.reasons, ['fail condition `scan.high > 1` is true']);
  assert.deepEqual(
    v.conditions.map((c) => [c.kind, c.result]),
    [
      ['pass', true],
      ['pass', true],
      ['fail', true],
      ['fail', false],
    ],
  );
  const passFalse = evaluatePolicy({ pass: ['build.branch == "release"', 'scan.critical == 0'], fail: [] }, vars);
  assert.deepEqual(
    [passFalse.allowed, passFalse.reasons],
    [false, ['pass condition `build.branch == "release"` is false']],
  );
  const broken = evaluatePolicy({ pass: ['image.labels["missing"] == "x"'], fail: ['image.tagg == "x"'] }, vars);
  assert.equal(broken.allowed, false);
  assert.equal(broken.conditions.filter((c) => c.result === 'error').length, 2);
  assert.match(broken.reasons.join('\n'), /could not be evaluated/);
});
