/**
 * Which push events are hoist's own promotions reported back (src/service/own-pushes.ts): one row per case, from what
 * the database holds for the digest (DigestHolding rows) and what this process's runner is writing now.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OwnPushes } from '../../src/service/own-pushes.ts';
import type { DigestHolding } from '../../src/store/push-echo.query.ts';

const D = `sha256:${'a'.repeat(64)}`;
const env = (id: string, over: Partial<DigestHolding> = {}): DigestHolding => ({
  environmentId: id,
  kind: 'repository',
  repositoryTemplate: `${id}/{app}`,
  tagTemplate: null,
  app: 'web',
  artifactId: 'art-1',
  locationTag: 'v1',
  since: new Date(),
  tagKnown: true,
  promotedRecently: true,
  ...over,
});
const push = { registryId: 'reg', repository: 'staging/web', digest: D, tag: 'v1' };

test('echo: a recent promotion recorded under the same tag, or the one this process is writing now', () => {
  const cases: Array<[string, DigestHolding[], boolean, boolean]> = [
    // name, holdings, this process writes staging, expected
    ['promoted lately, same tag', [env('staging')], false, true],
    ['not located yet, but being written here', [env('staging', { artifactId: null, since: null })], true, true],
    ['not located yet, written elsewhere', [env('staging', { artifactId: null, since: null })], false, false],
    ['located by a push, not by a promotion', [env('staging', { promotedRecently: false })], false, false],
    ['another tag there', [env('staging', { locationTag: 'v0' })], false, false],
    ['tag never seen with the artifact', [env('staging', { tagKnown: false })], false, false],
    [
      "another application's environment holds the repository too",
      [env('staging'), env('staging', { environmentId: 'other', app: 'web', artifactId: null, since: null })],
      true,
      false,
    ],
    ['no environment holds the repository', [env('prod')], false, false],
  ];
  for (const [name, holdings, writing, expected] of cases) {
    const own = new OwnPushes();
    if (writing) own.remember(push, 'staging');
    assert.equal(own.echo(push, holdings), expected, name);
  }
});

test('echo: what this process wrote is remembered for a minute, by registry, repository, digest and tag', () => {
  let now = 1_000_000;
  const own = new OwnPushes(() => now);
  own.remember(push, 'staging');
  const notYet = [env('staging', { artifactId: null, since: null, promotedRecently: false })];
  assert.equal(own.echo(push, notYet), true);
  assert.equal(own.echo({ ...push, tag: 'v2' }, notYet), false, 'another tag');
  assert.equal(own.echo({ ...push, registryId: 'other' }, notYet), false, 'another registry');
  now += 61_000;
  assert.equal(own.echo(push, notYet), false, 'forgotten after a minute');
});

test('knownEcho: a write remembered again is kept longer, with what was learnt of it (sole holder)', async () => {
  let now = 1_000_000;
  let asked = 0;
  const own = new OwnPushes(() => now);
  own.soleHolder = async () => (asked++, true);
  own.remember(push, 'staging');
  await new Promise((r) => setImmediate(r));
  assert.equal(own.knownEcho(push), true, 'sole holder, learnt while the bytes were copied');
  now += 50_000;
  // The runner says it again right before the tag's PUT: nothing to learn again, recognised at once.
  own.remember(push, 'staging');
  assert.equal(own.knownEcho(push), true);
  assert.equal(asked, 1, 'the sole holder was asked once');
  now += 50_000;
  assert.equal(own.knownEcho(push), true, 'a minute from the second time');
  now += 11_000;
  assert.equal(own.knownEcho(push), false, 'forgotten then');
  // Another environment written under the same key is a write of its own.
  own.remember(push, 'prod');
  assert.equal(own.knownEcho(push), false, 'not known yet whether prod is the sole holder');
});
