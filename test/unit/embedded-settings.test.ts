/** The embedded database's buffer cache: 8 MB unless HOIST_EMBEDDED_SHARED_BUFFERS names a size; anything else is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embeddedPostgresSettings } from '../../src/store/embedded-tuning.ts';

test('shared_buffers: 8MB by default, a PostgreSQL size when set, a clear refusal otherwise', () => {
  assert.deepEqual(embeddedPostgresSettings({}), ['-c', 'shared_buffers=8MB']);
  assert.deepEqual(embeddedPostgresSettings({ HOIST_EMBEDDED_SHARED_BUFFERS: '32MB' }), ['-c', 'shared_buffers=32MB']);
  for (const bad of ['32', '0MB', '32 MB', '32MB -c fsync=off', '1TB', ''])
    assert.throws(
      () => embeddedPostgresSettings({ HOIST_EMBEDDED_SHARED_BUFFERS: bad }),
      /HOIST_EMBEDDED_SHARED_BUFFERS=.*give a size such as 8MB or 64MB/,
      bad,
    );
});
