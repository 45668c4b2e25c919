/**
 * Bounded CEL: `matches` runs RE2 (linear time, RE2 syntax), expressions over a cost limit are refused at compile time
 * with the limit and the position named, and an evaluation stops at its step or time budget with an error saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCondition } from '../../src/policy/condition.ts';
import { estimatedCost } from '../../src/policy/cost.ts';
import { evaluatePolicy } from '../../src/policy/evaluate.ts';
import { policyVariables } from '../../src/policy/inputs.ts';
import { policyEnvironment } from '../../src/policy/variables.ts';
import type { CelNode } from '../../src/policy/cel-ast.ts';

const vars = policyVariables({
  image: { repository: 'shop/web', tag: 'v1.2.3', digest: `sha256:${'a'.repeat(64)}`, labels: { team: 'shop' } },
  sbom: { licenses: ['MIT'], components: ['openssl'] },
});
const SIXTEEN = `[${Array.from({ length: 16 }, (_, i) => i).join(', ')}]`;

/** Runs with a generous time budget: tests share a loaded machine, and wall-clock limits are not what they check. */
function run(expression: string): unknown {
  const c = compileCondition(expression, { milliseconds: 60_000, steps: 1_000_000 });
  assert.ok(c.ok, `${expression}: ${c.ok ? '' : c.error}`);
  return c.value.run(vars);
}

function refused(expression: string): { line: number; column: number; message: string } {
  const c = compileCondition(expression);
  assert.equal(c.ok, false, `${expression} compiled`);
  assert.ok(c.problem, 'a problem with a position');
  return c.problem;
}

test('matches runs RE2: the catastrophic pattern answers, and RE2-only syntax works as RE2 defines it', () => {
  assert.equal(run('"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!".matches("^(a+)+$")'), false);
  assert.equal(run('"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".matches("^(a+)+$")'), true);
  // JavaScript's engine refuses (?i) and reads \pL as "pL"; RE2 reads them as a flag and a Unicode class.
  assert.equal(run('"ABC".matches("(?i)^abc$")'), true);
  assert.equal(run('"é".matches("^\\\\pL$")'), true);
  // CEL's matches is a search, not a full match.
  assert.equal(run('image.tag.matches("2")'), true);
  assert.equal(run('image.tag.matches(image.labels["team"])'), false);
});

test('patterns RE2 does not support are refused at compile time with their position', () => {
  const backreference = refused('image.tag != "" &&\n  image.tag.matches("(a)\\\\1")');
  assert.deepEqual([backreference.line, backreference.column], [2, 21]);
  assert.match(backreference.message, /backreferences .* not supported by RE2/);
  assert.match(refused('image.tag.matches("v(?=1)")').message, /lookahead and lookbehind/);
  assert.match(refused('image.tag.matches("(?<=v)1")').message, /lookahead and lookbehind/);
  assert.match(refused('image.tag.matches("a{1001}")').message, /not a valid regular expression \(RE2 syntax\)/);
});

test('a pattern that only exists at evaluation time is checked then, and a bad one denies with the reason', () => {
  const v = policyVariables({
    image: { repository: 'shop/web', tag: 'v1', digest: `sha256:${'a'.repeat(64)}`, labels: { re: '(x)\\1' } },
  });
  const verdict = evaluatePolicy({ pass: ['image.tag.matches(image.labels["re"])'], fail: [] }, v);
  assert.equal(verdict.allowed, false);
  assert.match(verdict.reasons[0] ?? '', /backreferences/);
});

test('nested comprehensions over a list literal are refused at compile time, naming the limit and where', () => {
  const two = `${SIXTEEN}.all(a, ${SIXTEEN}.all(b, a + b >= 0))`;
  assert.equal(run(two), true);
  let nested = 'a0 >= 0';
  for (let i = 5; i >= 0; i--) nested = `${SIXTEEN}.all(a${i}, ${nested})`;
  const tooDeep = refused(nested);
  assert.match(tooDeep.message, /comprehensions are nested more than 3 deep/);
  assert.equal(tooDeep.line, 1);
  assert.ok(tooDeep.column > 100, `column ${tooDeep.column} points inside, at the fourth comprehension`);
  const three = `${SIXTEEN}.all(a, ${SIXTEEN}.all(b, ${SIXTEEN}.all(c, a + b + c >= 0)))`;
  assert.equal(run(three), true, 'three levels over 16 elements are within the cost limit');
  // Lists of unknown size count as 1,000 entries: two variable lists nested are a million iterations.
  const product = refused('image.tag != "" && sbom.components.exists(c, sbom.licenses.exists(l, c == l))');
  assert.match(product.message, /estimated cost [\d,]+ is over the limit of 1,000,000/);
  assert.deepEqual([product.line, product.column], [1, 20]);
  assert.equal(run('sbom.components.exists(c, c.startsWith("open"))'), true);
});

test('the estimate multiplies by each comprehension list size and adds the size of lists searched with in', () => {
  const cost = (e: string): number => {
    const program = policyEnvironment().parse(e);
    program.check();
    return estimatedCost(program.ast as unknown as CelNode);
  };
  const one = cost(`${SIXTEEN}.all(a, a >= 0)`);
  const two = cost(`${SIXTEEN}.all(a, ${SIXTEEN}.all(b, b >= a))`);
  assert.ok(two > one * 14, `${two} vs ${one}`);
  assert.ok(cost('"MIT" in sbom.licenses') > 1000);
  assert.ok(cost('"MIT" in ["MIT", "BSD"]') < 10);
});

test('an evaluation stops at its step budget or its time budget with an error naming it and where', () => {
  const expression = `image.tag != "" &&\n${SIXTEEN}.all(a, ${SIXTEEN}.all(b, ${SIXTEEN}.all(c, a + b + c >= 0)))`;
  const steps = compileCondition(expression, { milliseconds: 60_000, steps: 500 });
  assert.ok(steps.ok);
  assert.throws(
    () => steps.value.run(vars),
    /^Error: evaluation stopped at line 2, column \d+: over its budget of 500 steps$/,
  );
  const time = compileCondition(expression, { milliseconds: -1, steps: 10_000_000 });
  assert.ok(time.ok);
  assert.throws(() => time.value.run(vars), /evaluation stopped at line 2, column \d+: over its time budget of -1 ms/);
  // The budget is per evaluation: the same compiled condition runs again with a fresh one.
  const enough = compileCondition(expression, { milliseconds: 60_000, steps: 100_000 });
  assert.ok(enough.ok);
  assert.equal(enough.value.run(vars), true);
  assert.equal(enough.value.run(vars), true);
});

test('size limits: a long or deeply nested expression is refused before it is type-checked', () => {
  assert.match(refused(`${'('.repeat(60)}true${')'.repeat(60)}`).message, /nested|maxDepth|depth/i);
  assert.match(refused(Array.from({ length: 1100 }, () => '1').join('+') + ' > 0').message, /maxAstNodes|longer/);
});

test('one match is bounded before it runs: a large pattern over a long label is refused at once, and a condition needing it denies', () => {
  // An image config may carry megabytes of labels: \pL{1000} over 40,000 of them held the event loop for 2.5 s.
  const long = ('é'.repeat(990) + '!').repeat(41);
  const v = policyVariables({
    image: { repository: 'shop/web', tag: 'v1', digest: `sha256:${'a'.repeat(64)}`, labels: { notes: long } },
  });
  const started = performance.now();
  const verdict = evaluatePolicy({ pass: ['image.labels["notes"].matches("\\\\pL{1000}")'], fail: [] }, v);
  const took = performance.now() - started;
  assert.equal(verdict.allowed, false, 'fails closed');
  assert.match(
    verdict.reasons.join(' '),
    /matches on 40,631 characters with a pattern of 1,002 instructions is over the limit of 100,000/,
  );
  assert.ok(took < 1000, `refused before matching, not after (${took.toFixed(0)} ms)`);
  // Within the bound the same pattern runs, and small patterns take
  // long strings.
  assert.equal(run(`"${'é'.repeat(90)}".matches("\\\\pL{1000}")`), false);
  const tagged = policyVariables({
    image: {
      repository: 'shop/web',
      tag: 'v1',
      digest: `sha256:${'a'.repeat(64)}`,
      labels: { n: `${'x'.repeat(10_000)}-rc1` },
    },
  });
  assert.equal(evaluatePolicy({ pass: ['image.labels["n"].matches("-rc[0-9]+$")'], fail: [] }, tagged).allowed, true);
});

test('matches is charged to the evaluation: many large matches in a comprehension stop at the step budget', () => {
  const v = policyVariables({
    image: { repository: 'shop/web', tag: 'v1', digest: `sha256:${'a'.repeat(64)}`, labels: { n: 'é'.repeat(90) } },
  });
  // Each match is within its own bound (1,002 × 91), 64 of them are not within one evaluation's steps.
  const c = compileCondition(
    `${SIXTEEN}.all(a, ${'[0, 1, 2, 3]'}.all(b, !image.labels["n"].matches("\\\\pL{1000}")))`,
    {
      milliseconds: 60_000,
      steps: 1_000_000,
    },
  );
  assert.ok(c.ok, c.ok ? '' : c.error);
  assert.throws(() => c.value.run(v), /evaluation stopped at line 1, column \d+: over its budget of 1,000,000 steps/);
});

/** The median and the worst of `n` timings of `f`, in milliseconds. */
function timings(n: number, f: () => void): { median: number; worst: number } {
  const times = Array.from({ length: n }, () => {
    const started = performance.now();
    f();
    return performance.now() - started;
  }).sort((a, b) => a - b);
  return { median: times[Math.floor(n / 2)]!, worst: times[n - 1]! };
}

test('the default time budget (50 ms) stops a long evaluation within 200 ms, even where all/exists or || would absorb the error', (t) => {
  // Each step is cheap to estimate and slow to run: a 200,000-character label copied and counted, 4,096 times.
  const v = policyVariables({
    image: {
      repository: 'shop/web',
      tag: 'v1',
      digest: `sha256:${'a'.repeat(64)}`,
      labels: { notes: 'x'.repeat(200_000) },
    },
  });
  const slow = `${SIXTEEN}.all(a, ${SIXTEEN}.all(b, ${SIXTEEN}.all(c, (image.labels["notes"] + string(a)).size() > 0)))`;
  for (const expression of [slow, `${slow} || true`, `!${slow.replace('.all(a', '.exists(a')}`]) {
    assert.ok(compileCondition(expression).ok, 'within the compile-time cost limit');
    const started = performance.now();
    const verdict = evaluatePolicy({ pass: [expression], fail: [] }, v);
    const took = performance.now() - started;
    t.diagnostic(`${expression.slice(-40)}: stopped after ${took.toFixed(0)} ms`);
    assert.equal(verdict.allowed, false, 'fails closed');
    assert.match(
      verdict.reasons.join(' '),
      /could not be evaluated: evaluation stopped at line 1, column \d+: over its time budget of 50 ms/,
    );
    assert.ok(took < 200, `stopped after ${took.toFixed(0)} ms, not within 200 ms of a 50 ms budget`);
  }
});

test('the hostile inputs of issue 10 under the default budget: each evaluation is short (figures for the record)', (t) => {
  const catastrophic = '"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!".matches("^(a+)+$")';
  const threeDeep = `${SIXTEEN}.all(a, ${SIXTEEN}.all(b, ${SIXTEEN}.all(c, a + b + c >= 0)))`;
  let sixDeep = 'a0 >= 0';
  for (let i = 5; i >= 0; i--) sixDeep = `${SIXTEEN}.all(a${i}, ${sixDeep})`;
  for (const [what, expression] of [
    ['catastrophic regex', catastrophic],
    ['3 nested comprehensions over [0..15]', threeDeep],
    ['6 nested comprehensions over [0..15] (refused at compile time)', sixDeep],
  ] as const) {
    // The first evaluation compiles (and caches) the condition, as a saved rule's first run does.
    const first = timings(1, () => evaluatePolicy({ pass: [expression], fail: [] }, vars)).worst;
    const { median, worst } = timings(5, () => evaluatePolicy({ pass: [expression], fail: [] }, vars));
    t.diagnostic(
      `${what}: first (with compile) ${first.toFixed(2)} ms; 5 evaluations: median ${median.toFixed(2)} ms, worst ${worst.toFixed(2)} ms`,
    );
    assert.ok(Math.max(first, worst) < 200, `${what}: ${first.toFixed(1)} / ${worst.toFixed(1)} ms`);
  }
});
