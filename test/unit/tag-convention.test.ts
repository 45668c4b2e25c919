/**
 * Kind-tag environments' conventions (`prod`, `{tag}-prod`, `{app}-live`): which tags they hold. A convention is
 * written by a project owner and matched against every pushed tag, so matching must stay linear however it is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tagMatches } from '../../src/service/artifacts.service.ts';

test('tag conventions match the tags of their stage', () => {
  assert.ok(tagMatches('prod', 'web', 'prod'));
  assert.ok(!tagMatches('prod', 'web', 'prod1'));
  assert.ok(tagMatches('{tag}-qa', 'web', '2.0-qa'));
  assert.ok(!tagMatches('{tag}-qa', 'web', '2.0-prod'));
  assert.ok(!tagMatches('{tag}-qa', 'web', '-qa'), '{tag} is never empty');
  assert.ok(tagMatches('{app}.{tag}', 'web', 'web.1'));
  assert.ok(!tagMatches('{app}.{tag}', 'web', 'webx1'), 'dots are literal');
  assert.ok(!tagMatches('{app}.{tag}', 'api', 'web.1'));
  assert.ok(tagMatches('{tag}-{app}-{tag}', 'web', '1.2-web-1.2'));
});

test('every {tag} is the same source tag, as a promotion writes it', () => {
  assert.ok(!tagMatches('{tag}-{tag}', 'web', '1.0-2.0'));
  assert.ok(tagMatches('{tag}-{tag}', 'web', '1.0-1.0'));
  assert.ok(!tagMatches('{tag}{tag}', 'web', 'abc'));
});

test('a convention made to backtrack answers at once (a 128-character tag against 20 holes)', () => {
  const hostile = `${'{tag}'.repeat(20)}x`;
  assert.equal(tagMatches(hostile, 'web', 'a'.repeat(128)), false);
  assert.equal(tagMatches(hostile, 'web', `${'a'.repeat(20)}x`), true);
});
