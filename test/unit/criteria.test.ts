import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  celString,
  compileCriteria,
  describeCriterion,
  parseCriteria,
  parseCriterionFlag,
  regexProblem,
  type Criterion,
} from '../../src/automation/criteria.ts';
import { InvalidInput } from '../../src/errors.ts';
import { compileCondition } from '../../src/policy/condition.ts';
import { policyVariables, type PolicyInput } from '../../src/policy/inputs.ts';

const HOSTILE = [
  'a"b\\c',
  'line\nbreak\r\ttab',
  'nul\u0000del\u007f\u0085',
  '") || true || ("',
  '\\"',
  'é😀\u2028',
  '${x}',
  "it's",
];

const base: PolicyInput = {
  image: {
    repository: 'shop/web',
    tag: 'v1.2.3',
    digest: `sha256:${'a'.repeat(64)}`,
    labels: { team: 'shop', tier: 'web' },
  },
  scan: { critical: 0, high: 2, medium: 5, low: 9 },
  sbom: { licenses: ['MIT', 'Apache-2.0'], components: ['openssl', 'zlib'] },
  signaturePresent: true,
};

const withTag = (tag: string): PolicyInput => ({ ...base, image: { ...base.image, tag } });
const withLabels = (labels: Record<string, string>): PolicyInput => ({ ...base, image: { ...base.image, labels } });

/** Compiles the criteria, type-checks the CEL with the policy engine and runs it against real variables. */
function matches(criteria: Criterion[], input: PolicyInput = base): boolean {
  const expression = compileCriteria(criteria);
  const compiled = compileCondition(expression);
  assert.ok(compiled.ok, `${expression}: ${compiled.ok ? '' : compiled.error}`);
  const result = compiled.value.run(policyVariables(input));
  assert.equal(typeof result, 'boolean', expression);
  return result as boolean;
}

function check(cases: Array<[Criterion, PolicyInput, boolean]>): void {
  for (const [c, input, want] of cases)
    assert.equal(matches([c], input), want, `${compileCriteria([c])} on ${JSON.stringify(input.image)}`);
}

const invalid = (pattern: RegExp, where?: string) => (e: unknown) => {
  assert.ok(e instanceof InvalidInput, String(e));
  assert.match(e.message, pattern);
  if (where !== undefined) assert.equal(e.where, where);
  return true;
};

test('no criteria compile to true; criteria are parenthesised and ANDed', () => {
  assert.equal(compileCriteria([]), 'true');
  assert.equal(matches([]), true);
  const both: Criterion[] = [
    { field: 'tag', op: 'startsWith', value: 'v' },
    { field: 'signature', op: 'present' },
  ];
  assert.equal(compileCriteria(both), '(image.tag.startsWith("v")) && (signature.present)');
  assert.equal(matches(both), true);
  assert.equal(matches([...both, { field: 'tag', op: 'endsWith', value: '-rc' }]), false);
});

test('CEL string literals survive quotes, backslashes, newlines, control characters and non-ASCII', () => {
  for (const s of HOSTILE) {
    const lit = celString(s);
    const compiled = compileCondition(`${lit} == image.tag`);
    assert.ok(compiled.ok, `${lit}: ${compiled.ok ? '' : compiled.error}`);
    assert.equal(compiled.value.run(policyVariables(withTag(s))), true, lit);
    assert.equal(compiled.value.run(policyVariables(withTag(`${s}x`))), false, lit);
    assert.ok(!lit.includes('\n') && !lit.includes('\r'), lit);
  }
  assert.equal(celString('a"b\\c'), '"a\\"b\\\\c"');
});

test('hostile values in tag, label and list criteria match exactly themselves', () => {
  for (const s of HOSTILE) {
    check([
      [{ field: 'tag', op: 'equals', value: s }, withTag(s), true],
      [{ field: 'tag', op: 'equals', value: s }, withTag('v1'), false],
      [{ field: 'tag', op: 'oneOf', values: ['x', s] }, withTag(s), true],
      [{ field: 'tag', op: 'notOneOf', values: ['x', s] }, withTag(s), false],
      [{ field: 'label', name: s, op: 'equals', value: s }, withLabels({ [s]: s }), true],
      [{ field: 'label', name: s, op: 'present' }, withLabels({ team: s }), false],
      [{ field: 'component', op: 'present', name: s }, { ...base, sbom: { licenses: [], components: [s] } }, true],
    ]);
  }
});

test('tag operators, each true and false', () => {
  check([
    [{ field: 'tag', op: 'equals', value: 'v1.2.3' }, base, true],
    [{ field: 'tag', op: 'equals', value: 'v1.2' }, base, false],
    [{ field: 'tag', op: 'startsWith', value: 'v1.' }, base, true],
    [{ field: 'tag', op: 'startsWith', value: '1.' }, base, false],
    [{ field: 'tag', op: 'endsWith', value: '.3' }, base, true],
    [{ field: 'tag', op: 'endsWith', value: 'v1' }, base, false],
    [{ field: 'tag', op: 'contains', value: '.2.' }, base, true],
    [{ field: 'tag', op: 'contains', value: 'rc' }, base, false],
    [{ field: 'tag', op: 'matches', value: '^v[0-9]+\\.[0-9]+\\.[0-9]+$' }, base, true],
    [{ field: 'tag', op: 'matches', value: '^v[0-9]+$' }, base, false],
    [{ field: 'tag', op: 'oneOf', values: ['latest', 'v1.2.3'] }, base, true],
    [{ field: 'tag', op: 'oneOf', values: ['latest'] }, base, false],
    [{ field: 'tag', op: 'notOneOf', values: ['latest', 'dev'] }, base, true],
    [{ field: 'tag', op: 'notOneOf', values: ['v1.2.3'] }, base, false],
  ]);
});

test('label operators, each true and false, and a missing label never makes evaluation fail', () => {
  const none = withLabels({});
  check([
    [{ field: 'label', name: 'team', op: 'equals', value: 'shop' }, base, true],
    [{ field: 'label', name: 'team', op: 'equals', value: 'shops' }, base, false],
    [{ field: 'label', name: 'team', op: 'equals', value: 'shop' }, none, false],
    [{ field: 'label', name: 'team', op: 'notEquals', value: 'ops' }, base, true],
    [{ field: 'label', name: 'team', op: 'notEquals', value: 'shop' }, base, false],
    [{ field: 'label', name: 'team', op: 'notEquals', value: 'shop' }, none, true],
    [{ field: 'label', name: 'team', op: 'startsWith', value: 'sh' }, base, true],
    [{ field: 'label', name: 'team', op: 'startsWith', value: 'op' }, base, false],
    [{ field: 'label', name: 'team', op: 'startsWith', value: 'sh' }, none, false],
    [{ field: 'label', name: 'team', op: 'endsWith', value: 'op' }, base, true],
    [{ field: 'label', name: 'team', op: 'endsWith', value: 'sh' }, base, false],
    [{ field: 'label', name: 'team', op: 'contains', value: 'ho' }, base, true],
    [{ field: 'label', name: 'team', op: 'contains', value: 'x' }, base, false],
    [{ field: 'label', name: 'team', op: 'matches', value: '^s.*p$' }, base, true],
    [{ field: 'label', name: 'team', op: 'matches', value: '^p' }, base, false],
    [{ field: 'label', name: 'team', op: 'matches', value: '.*' }, none, false],
    [{ field: 'label', name: 'team', op: 'present' }, base, true],
    [{ field: 'label', name: 'team', op: 'present' }, none, false],
    [{ field: 'label', name: 'team', op: 'absent' }, none, true],
    [{ field: 'label', name: 'team', op: 'absent' }, base, false],
  ]);
});

test('vulnerability comparisons, each true and false, and none matches without a scan report', () => {
  const noScan: PolicyInput = { ...base, scan: null };
  const ops = ['<', '<=', '=', '!=', '>=', '>'] as const;
  // base has high = 2: [value that makes it true, value that makes it false]
  const values: Record<(typeof ops)[number], [number, number]> = {
    '<': [3, 2],
    '<=': [2, 1],
    '=': [2, 3],
    '!=': [3, 2],
    '>=': [2, 3],
    '>': [1, 2],
  };
  for (const op of ops) {
    const [yes, no] = values[op];
    check([
      [{ field: 'vulnerabilities', severity: 'high', op, value: yes }, base, true],
      [{ field: 'vulnerabilities', severity: 'high', op, value: no }, base, false],
      [{ field: 'vulnerabilities', severity: 'high', op, value: yes }, noScan, false],
      [{ field: 'vulnerabilities', severity: 'critical', op, value: 0 }, noScan, false],
    ]);
  }
  assert.equal(
    compileCriteria([{ field: 'vulnerabilities', severity: 'critical', op: '<=', value: 0 }]),
    '(scan.present && scan.critical <= 0)',
  );
  check([
    [{ field: 'vulnerabilities', severity: 'critical', op: '=', value: 0 }, base, true],
    [{ field: 'vulnerabilities', severity: 'medium', op: '<', value: 5 }, base, false],
    [{ field: 'vulnerabilities', severity: 'low', op: '>=', value: 9 }, base, true],
  ]);
});

test('license, component and signature criteria, each true and false, and missing SBOM data matches nothing', () => {
  const noSbom: PolicyInput = { ...base, sbom: null };
  check([
    [{ field: 'license', op: 'oneOf', values: ['MIT', 'Apache-2.0', 'BSD-3-Clause'] }, base, true],
    [{ field: 'license', op: 'oneOf', values: ['MIT'] }, base, false],
    [{ field: 'license', op: 'oneOf', values: ['MIT'] }, noSbom, false],
    [{ field: 'license', op: 'notOneOf', values: ['AGPL-3.0', 'GPL-3.0'] }, base, true],
    [{ field: 'license', op: 'notOneOf', values: ['GPL-3.0', 'Apache-2.0'] }, base, false],
    [{ field: 'license', op: 'notOneOf', values: ['GPL-3.0'] }, noSbom, false],
    [{ field: 'component', op: 'present', name: 'openssl' }, base, true],
    [{ field: 'component', op: 'present', name: 'log4j-core' }, base, false],
    [{ field: 'component', op: 'absent', name: 'log4j-core' }, base, true],
    [{ field: 'component', op: 'absent', name: 'zlib' }, base, false],
    [{ field: 'component', op: 'absent', name: 'log4j-core' }, noSbom, false],
    [{ field: 'signature', op: 'present' }, base, true],
    [{ field: 'signature', op: 'present' }, { ...base, signaturePresent: false }, false],
  ]);
});

test('a CEL criterion is one parenthesised expression: it cannot escape its parentheses or comment out the rest', () => {
  check([
    [{ field: 'cel', expression: 'source.environment == "staging"' }, { ...base, source: 'staging' }, true],
    [{ field: 'cel', expression: 'source.environment == "staging"' }, base, false],
  ]);
  const commented: Criterion[] = [
    { field: 'cel', expression: 'true // always' },
    { field: 'tag', op: 'equals', value: 'other' },
  ];
  assert.equal(matches(commented), false);
  assert.throws(
    () =>
      parseCriteria(
        [
          { field: 'tag', op: 'equals', value: 'x' },
          { field: 'cel', expression: 'true) || (true' },
        ],
        'criteria',
      ),
    invalid(/^criteria\[1\]\.expression: line 1, column \d+/, 'criteria[1].expression'),
  );
  assert.deepEqual(
    parseCriteria(
      [
        { field: 'cel', expression: ' true // ok ' },
        { field: 'signature', op: 'present' },
      ],
      'c',
    ).length,
    2,
  );
});

test('parseCriteria returns clean criteria and names the entry and key of each problem', () => {
  const good = [
    { field: 'tag', op: 'matches', value: '^v[0-9]+$' },
    { field: 'label', name: 'team', op: 'present' },
    { field: 'label', name: 'team', op: 'equals', value: 'shop' },
    { field: 'vulnerabilities', severity: 'critical', op: '<=', value: 0 },
    { field: 'license', op: 'notOneOf', values: ['GPL-3.0'] },
    { field: 'component', op: 'absent', name: 'log4j-core' },
    { field: 'signature', op: 'present' },
    { field: 'cel', expression: 'target.environment == "prod"' },
  ];
  assert.deepEqual(parseCriteria(good, 'criteria'), good);
  assert.deepEqual(parseCriteria([], 'criteria'), []);
  const bad: Array<[unknown, RegExp, string]> = [
    [{ criteria: [] }, /must be a list of criteria/, 'criteria'],
    [[null], /must be an object/, 'criteria[0]'],
    [[{ op: 'equals' }], /field: is required/, 'criteria[0].field'],
    [[{ field: 'size' }], /"size" is not one of tag, label, vulnerabilities/, 'criteria[0].field'],
    [
      [good[0], good[1], { field: 'tag', op: 'like', value: 'v' }],
      /^criteria\[2\]\.op: "like" is not one of equals, startsWith, endsWith, contains, matches, oneOf, notOneOf$/,
      'criteria[2].op',
    ],
    [
      [{ field: 'tag', op: 'oneOf', value: 'a,b' }],
      /value: is not a key of a tag criterion \(field, op, values\)/,
      'criteria[0].value',
    ],
    [[{ field: 'tag', op: 'equals' }], /value: is required/, 'criteria[0].value'],
    [[{ field: 'tag', op: 'equals', value: 3 }], /must be a string, not 3/, 'criteria[0].value'],
    [[{ field: 'tag', op: 'equals', value: '' }], /must not be empty/, 'criteria[0].value'],
    [[{ field: 'tag', op: 'equals', value: '\ud800' }], /lone UTF-16 surrogate/, 'criteria[0].value'],
    [[{ field: 'tag', op: 'oneOf', values: [] }], /must not be empty/, 'criteria[0].values'],
    [[{ field: 'tag', op: 'oneOf', values: ['a', 7] }], /must be a string/, 'criteria[0].values[1]'],
    [[{ field: 'label', name: 'team', op: 'equals' }], /value: is required/, 'criteria[0].value'],
    [[{ field: 'label', name: 'team', op: 'present', value: 'x' }], /value: is not a key/, 'criteria[0].value'],
    [
      [{ field: 'vulnerabilities', severity: 'severe', op: '<', value: 1 }],
      /"severe" is not one of critical, high, medium, low/,
      'criteria[0].severity',
    ],
    [
      [{ field: 'vulnerabilities', severity: 'high', op: '==', value: 1 }],
      /"==" is not one of <, <=, =, !=, >=, >/,
      'criteria[0].op',
    ],
    [[{ field: 'vulnerabilities', severity: 'high', op: '<', value: -1 }], /whole number/, 'criteria[0].value'],
    [[{ field: 'vulnerabilities', severity: 'high', op: '<', value: 1.5 }], /whole number/, 'criteria[0].value'],
    [
      [{ field: 'vulnerabilities', severity: 'high', op: '<', value: '3' }],
      /whole number ≥ 0, not "3"/,
      'criteria[0].value',
    ],
    [[{ field: 'signature', op: 'absent' }], /"absent" is not one of present/, 'criteria[0].op'],
    [[{ field: 'cel', expression: 'image.tagg == "x"' }], /line 1, column \d+: .*tagg/, 'criteria[0].expression'],
    [[{ field: 'cel', expression: 'scan.high + 1' }], /not a bool/, 'criteria[0].expression'],
    [[{ field: 'tag', op: 'matches', value: '(?<=v)1' }], /lookbehind/, 'criteria[0].value'],
    [[{ field: 'label', name: 'a', op: 'matches', value: '(a)\\1' }], /backreference/, 'criteria[0].value'],
    [Array.from({ length: 33 }, () => good[6]), /more than 32 criteria/, 'criteria'],
    [
      Array.from({ length: 20 }, () => ({
        field: 'tag',
        op: 'oneOf',
        values: Array.from({ length: 20 }, (_, i) => `value-${i}`),
      })),
      /do not compile.*longer than 4096/,
      'criteria',
    ],
  ];
  for (const [input, pattern, where] of bad)
    assert.throws(() => parseCriteria(input, 'criteria'), invalid(pattern, where), JSON.stringify(input).slice(0, 200));
});

test('regular expressions must mean the same in RE2 (CEL) and in JavaScript', () => {
  for (const ok of [
    '^v[0-9]+\\.[0-9]+$',
    '^(?:release|hotfix)-\\d+$',
    '^(?<major>\\d+)\\.',
    '[a-z\\-_]+',
    '\\x41\\.\\/',
    'a{2,5}b{3}',
    '[\\]a]',
    '[^\\]a]',
    '\\s\\S\\w\\W\\bx\\B',
  ]) {
    assert.equal(regexProblem(ok), undefined, ok);
  }
  const bad: Array<[string, RegExp]> = [
    ['(?<=a)b', /lookbehind/],
    ['(?<!a)b', /lookbehind/],
    ['a(?=b)', /lookahead/],
    ['a(?!b)', /lookahead/],
    ['(a)\\1', /backreference/],
    ['(?<x>a)\\k<x>', /backreference/],
    ['(?i)abc', /inline flags/],
    ['(?P<x>a)', /\(\?P<name>/],
    ['\\Aabc\\z', /\\A is not supported/],
    ['\\p{L}', /\\p is not supported/],
    ['\\u0041', /\\u is not supported/],
    ['\\x4', /two hex digits/],
    ['\\0', /not supported/],
    ['[[:alpha:]]', /POSIX/],
    ['[\\b]', /inside \[...\]/],
    ['[]a]', /first in \[...\]/],
    ['[^]a]', /first in \[...\]/],
    ['a{1001}', /above 1000/],
    ['a{2,5000}', /above 1000/],
    ['(', /not a valid regular expression/],
    ['[a-', /not a valid regular expression/],
  ];
  for (const [pattern, want] of bad) assert.match(regexProblem(pattern) ?? 'accepted', want, pattern);
});

test('CLI flags parse to criteria', () => {
  const cases: Array<[string, Criterion]> = [
    ['tag startsWith v', { field: 'tag', op: 'startsWith', value: 'v' }],
    ['  tag   equals   v1.2.3  ', { field: 'tag', op: 'equals', value: 'v1.2.3' }],
    ['tag oneOf a,b,c', { field: 'tag', op: 'oneOf', values: ['a', 'b', 'c'] }],
    ['tag notOneOf latest, dev', { field: 'tag', op: 'notOneOf', values: ['latest', 'dev'] }],
    ['tag matches ^v[0-9]+$', { field: 'tag', op: 'matches', value: '^v[0-9]+$' }],
    ['tag matches ^release (candidate)$', { field: 'tag', op: 'matches', value: '^release (candidate)$' }],
    ['TAG STARTSWITH v', { field: 'tag', op: 'startsWith', value: 'v' }],
    ['label team=shop', { field: 'label', name: 'team', op: 'equals', value: 'shop' }],
    ['label team != shop', { field: 'label', name: 'team', op: 'notEquals', value: 'shop' }],
    [
      'label org.opencontainers.image.vendor=Acme Corp',
      { field: 'label', name: 'org.opencontainers.image.vendor', op: 'equals', value: 'Acme Corp' },
    ],
    ['label team present', { field: 'label', name: 'team', op: 'present' }],
    ['label team absent', { field: 'label', name: 'team', op: 'absent' }],
    ['label team contains sh', { field: 'label', name: 'team', op: 'contains', value: 'sh' }],
    ['label team matches ^s', { field: 'label', name: 'team', op: 'matches', value: '^s' }],
    ['critical <= 0', { field: 'vulnerabilities', severity: 'critical', op: '<=', value: 0 }],
    ['high < 3', { field: 'vulnerabilities', severity: 'high', op: '<', value: 3 }],
    ['medium==4', { field: 'vulnerabilities', severity: 'medium', op: '=', value: 4 }],
    ['low != 10', { field: 'vulnerabilities', severity: 'low', op: '!=', value: 10 }],
    ['low >= 1', { field: 'vulnerabilities', severity: 'low', op: '>=', value: 1 }],
    ['high > 0', { field: 'vulnerabilities', severity: 'high', op: '>', value: 0 }],
    ['license notOneOf AGPL-3.0,GPL-3.0', { field: 'license', op: 'notOneOf', values: ['AGPL-3.0', 'GPL-3.0'] }],
    ['license oneOf MIT', { field: 'license', op: 'oneOf', values: ['MIT'] }],
    ['component absent log4j-core', { field: 'component', op: 'absent', name: 'log4j-core' }],
    ['component present openssl', { field: 'component', op: 'present', name: 'openssl' }],
    ['signature present', { field: 'signature', op: 'present' }],
    [
      'cel source.environment == "staging" && scan.present',
      { field: 'cel', expression: 'source.environment == "staging" && scan.present' },
    ],
  ];
  for (const [flag, want] of cases) {
    const c = parseCriterionFlag(flag, '--criterion');
    assert.deepEqual(c, want, flag);
    assert.equal(typeof matches([c]), 'boolean');
  }
});

test('bad CLI flags are refused with the flag quoted', () => {
  const bad: Array<[string, RegExp]> = [
    [
      'tag like v',
      /^--criterion: "tag like v": "like" tag operator is not one of equals, startsWith, .*; e\.g\. "tag startsWith v"/,
    ],
    [
      'frobnicate x',
      /"frobnicate" criterion is not one of tag, label, license, component, signature, cel, critical, high, medium, low/,
    ],
    ['', /a missing criterion/],
    ['tag startsWith', /"tag startsWith" \(value\): must not be empty/],
    ['tag oneOf a,,b', /values\[1\]\): must not be empty/],
    ['label team', /a missing label operator/],
    ['label team=', /must not be empty/],
    ['label team present yes', /takes no value/],
    ['critical <= -1', /whole number/],
    ['critical about 3', /expected a comparison/],
    ['high < 1.5', /whole number/],
    ['signature absent', /"absent" signature operator is not one of present/],
    ['component absent', /\(name\): must not be empty/],
    ['tag matches (?<=v)1', /"tag matches \(\?<=v\)1" \(value\): lookbehind/],
    ['cel image.tagg == "x"', /\(expression\): line 1, column \d+: .*tagg/],
    ['cel', /\(expression\): must not be empty/],
  ];
  for (const [flag, want] of bad)
    assert.throws(() => parseCriterionFlag(flag, '--criterion'), invalid(want, '--criterion'), flag);
});

test('criteria read as short sentences', () => {
  const cases: Array<[Criterion, string]> = [
    [{ field: 'tag', op: 'startsWith', value: 'v' }, 'tag starts with v'],
    [{ field: 'tag', op: 'equals', value: 'a b' }, 'tag is "a b"'],
    [{ field: 'tag', op: 'matches', value: '^v[0-9]+$' }, 'tag matches ^v[0-9]+$'],
    [{ field: 'tag', op: 'notOneOf', values: ['latest', 'dev'] }, 'tag is not one of latest, dev'],
    [{ field: 'label', name: 'team', op: 'equals', value: 'shop' }, 'label team is shop'],
    [{ field: 'label', name: 'team', op: 'notEquals', value: 'shop' }, 'label team is not shop (or is absent)'],
    [{ field: 'label', name: 'team', op: 'absent' }, 'label team is absent'],
    [
      { field: 'vulnerabilities', severity: 'critical', op: '<=', value: 0 },
      'a scan report with critical vulnerabilities <= 0',
    ],
    [{ field: 'license', op: 'oneOf', values: ['MIT', 'Apache-2.0'] }, 'every SBOM license is one of MIT, Apache-2.0'],
    [{ field: 'license', op: 'notOneOf', values: ['GPL-3.0'] }, 'no SBOM license is one of GPL-3.0'],
    [{ field: 'component', op: 'absent', name: 'log4j-core' }, 'the SBOM does not list component log4j-core'],
    [{ field: 'signature', op: 'present' }, 'the image is signed'],
    [{ field: 'cel', expression: ' scan.present ' }, 'CEL: scan.present'],
  ];
  for (const [c, want] of cases) assert.equal(describeCriterion(c), want);
});
