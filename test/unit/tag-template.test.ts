import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  renderTagTemplate,
  validateTagTemplate,
  SAMPLE_TAG_CONTEXT,
  type TagContext,
} from '../../src/automation/tag-template.ts';
import { InvalidInput } from '../../src/errors.ts';

const hex = `${'0123456789abcdef'.repeat(4)}`;
const ctx: TagContext = {
  tag: 'v1.2.3',
  digest: `sha256:${hex}`,
  env: 'prod',
  app: 'shop',
  now: new Date('2026-03-05T07:08:09.012Z'),
};

const invalid = (pattern: RegExp, where?: string) => (e: unknown) => {
  assert.ok(e instanceof InvalidInput, String(e));
  assert.match(e.message, pattern);
  assert.equal(e.where, where);
  return true;
};

test('%n and the strftime placeholders render in UTC', () => {
  const cases: Array<[string, string]> = [
    ['%n', 'v1.2.3'],
    ['%n-%Y%m%d', 'v1.2.3-20260305'],
    ['%H%M%S', '070809'],
    ['%y', '26'],
    ['%j', '064'],
    ['%a-%A', 'Thu-Thursday'],
    ['%b-%B', 'Mar-March'],
    ['%I%p', '07AM'],
    ['%f', '012000'],
    ['release-%n', 'release-v1.2.3'],
    ['stable', 'stable'],
  ];
  for (const [template, want] of cases) assert.equal(renderTagTemplate(template, ctx), want, template);
  const evening = { ...ctx, now: new Date('2026-12-31T23:59:58.999Z') };
  assert.equal(renderTagTemplate('%j_%I%p_%f_%a_%b', evening), '365_11PM_999000_Thu_Dec');
  assert.equal(renderTagTemplate('%I%p', { ...ctx, now: new Date('2026-01-01T00:30:00Z') }), '12AM');
  assert.equal(renderTagTemplate('%I%p', { ...ctx, now: new Date('2026-01-01T12:30:00Z') }), '12PM');
  assert.equal(renderTagTemplate('%j', { ...ctx, now: new Date('2028-12-31T12:00:00Z') }), '366');
  // Offsets in the input do not matter: 2026-03-05T01:00+05:00 is the 4th in UTC.
  assert.equal(renderTagTemplate('%Y%m%d%H', { ...ctx, now: new Date('2026-03-05T01:00:00+05:00') }), '2026030420');
});

test('the braced placeholders render the tag, the digest, the time, the environment and the application', () => {
  const cases: Array<[string, string]> = [
    ['{tag}', 'v1.2.3'],
    ['{digest}', `sha256-${hex}`],
    ['{shortDigest}', '0123456789ab'],
    ['{timestamp}', '20260305070809'],
    ['{env}-{app}-{tag}', 'prod-shop-v1.2.3'],
    ['{app}_{shortDigest}.%Y', 'shop_0123456789ab.2026'],
  ];
  for (const [template, want] of cases) assert.equal(renderTagTemplate(template, ctx), want, template);
});

test('a rendering that is not a valid tag is refused, naming the template and the result', () => {
  const bad: Array<[string, Partial<TagContext>, RegExp]> = [
    [
      'release/%n',
      {},
      /^tag template "release\/%n" gives "release\/v1.2.3" for tag "v1.2.3", which is not a valid tag: "\/" is not allowed/,
    ],
    ['%n:latest', {}, /gives "v1.2.3:latest".*":" is not allowed/],
    ['a%%b', {}, /gives "a%b".*"%" is not allowed/],
    ['%n', { tag: '' }, /a tag cannot be empty/],
    ['-%n', {}, /a tag cannot start with "-"/],
    ['%n-{timestamp}', { tag: 'x'.repeat(120) }, /135 characters long and a tag is at most 128/],
    ['{env}-%n', { env: 'eu west' }, /" " is not allowed/],
    ['{digest}', { digest: `sha512:${'a'.repeat(128)}` }, /135 characters long/],
    ['{digest}', { digest: 'not-a-digest' }, /"not-a-digest" is not a digest/],
    ['%Y', { now: new Date('nonsense') }, /not a valid date/],
    ['%q', {}, /unknown placeholder %q at character 1/],
  ];
  for (const [template, change, want] of bad)
    assert.throws(
      () => renderTagTemplate(template, { ...ctx, ...change }),
      (e) => e instanceof InvalidInput && want.test(e.message),
      template,
    );
  assert.equal(renderTagTemplate('x'.repeat(128), ctx).length, 128);
  assert.equal(renderTagTemplate('_%n', ctx), '_v1.2.3');
});

test('validateTagTemplate refuses unknown placeholders and templates that give a bad tag, saying what and where', () => {
  for (const good of [
    '%n',
    '%n-%Y%m%d%H%M%S',
    '{app}-{env}-{shortDigest}',
    '{digest}',
    '%y.%j-%a%A%b%B%p%I%f',
    '{tag}_{timestamp}',
    'stable',
  ]) {
    assert.doesNotThrow(() => validateTagTemplate(good, 'rules[0].tagTemplate'), good);
  }
  const bad: Array<[string, RegExp]> = [
    ['', /^rules\[0\]\.tagTemplate: the tag template is empty$/],
    ['%n-%q', /unknown placeholder %q at character 4 \(known: %n %Y .* \{app\}\)/],
    ['%n%', /a lone "%" at the end at character 3/],
    ['{tag}-{branch}', /unknown placeholder \{branch\} at character 7/],
    ['{constructor}', /unknown placeholder \{constructor\}/],
    ['{__proto__}', /unknown placeholder \{__proto__\}/],
    ['{tag', /"\{" at character 1 is not closed/],
    [
      'release/%n',
      /gives "release\/v1\.2\.3" for tag v1\.2\.3, env staging, app web at 2027-09-29T13:14:15\.123Z, which is not a valid tag: "\/" is not allowed/,
    ],
    ['%n:latest', /":" is not allowed/],
    ['100%%', /"%" is not allowed/],
    ['.%n', /cannot start with "\."/],
    ['%n}', /"\}" is not allowed/],
    [`${'x'.repeat(110)}-%n-{timestamp}`, /132 characters long/],
    [`%A-%B-${'x'.repeat(110)}`, /130 characters long/],
    ['x'.repeat(1025), /longer than 1024 characters/],
  ];
  for (const [template, want] of bad)
    assert.throws(
      () => validateTagTemplate(template, 'rules[0].tagTemplate'),
      invalid(want, 'rules[0].tagTemplate'),
      template,
    );
});

test("validateTagTemplate renders with the rule's own environment and application when given", () => {
  assert.doesNotThrow(() => validateTagTemplate('{env}-%n', 'tagTemplate'));
  assert.throws(
    () => validateTagTemplate('{env}-%n', 'tagTemplate', { env: 'eu/west' }),
    invalid(/env eu\/west.*"\/" is not allowed/, 'tagTemplate'),
  );
  assert.equal(SAMPLE_TAG_CONTEXT.now.getUTCDay(), 3);
  assert.equal(SAMPLE_TAG_CONTEXT.now.getUTCMonth(), 8);
});
