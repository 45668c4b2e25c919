/** The event stream's pure parts: copy progress summed from copy events, its rate limit, and project visibility. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CopyPlan } from '../../src/copy/plan.ts';
import { CopyMeter, progressDue, visibleTo } from '../../src/promotion/live-event.ts';

const blob = (n: number, size: number, action: 'stream' | 'mount' | 'skip') => ({
  descriptor: { mediaType: 'application/octet-stream', digest: `sha256:${String(n).padStart(64, '0')}`, size },
  action,
});

test('the meter counts only streamed bytes, and takes back what a retried blob had sent', () => {
  const meter = new CopyMeter();
  const plan = {
    blobs: [blob(1, 5000, 'stream'), blob(2, 700, 'mount'), blob(3, 300, 'skip'), blob(4, 1000, 'stream')],
    manifestWaves: [],
  };
  assert.equal(meter.add({ kind: 'planned', plan: plan as unknown as CopyPlan }), true);
  assert.equal(meter.total, 6000, 'mounted and present blobs are not copied through hoist');
  meter.add({ kind: 'blob-bytes', digest: 'a', bytes: 4000 });
  meter.add({ kind: 'blob-bytes', digest: 'a', bytes: -4000 });
  meter.add({ kind: 'blob-bytes', digest: 'a', bytes: 5000 });
  assert.equal(meter.add({ kind: 'blob-bytes', digest: 'b', bytes: 1000 }), true);
  assert.deepEqual([meter.bytes, meter.total], [6000, 6000]);
  assert.equal(meter.add({ kind: 'blob-done', digest: 'b', action: 'streamed' }), false, 'no new figures');
});

test('progress: the first report at once, then at most one per interval, and always the last', () => {
  const rows: Array<[number | undefined, number, boolean, boolean]> = [
    [undefined, 1000, false, true],
    [1000, 1100, false, false],
    [1000, 1249, false, false],
    [1000, 1250, false, true],
    [1000, 1001, true, true],
  ];
  for (const [last, now, done, due] of rows)
    assert.equal(progressDue(last, now, 250, done), due, `last ${last} now ${now} done ${done}`);
});

test("a caller sees only their projects' events; an admin (no list) sees every project's", () => {
  assert.equal(visibleTo('p1', new Set(['p1', 'p2'])), true);
  assert.equal(visibleTo('p3', new Set(['p1', 'p2'])), false);
  assert.equal(visibleTo('p3', new Set()), false);
  assert.equal(visibleTo('p3', undefined), true);
});
