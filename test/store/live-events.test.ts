/**
 * The live events table's pruning (migration 0018) on both backends: writers prune once every 256 ids, deleting rows
 * older than a day and all but about the newest 10 000; in between they delete nothing. And the reads the stream
 * makes: bounds, and events after an id for some projects only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { forEachBackend } from '../helpers/backends.ts';
import { liveEventBounds, liveEventsAfter } from '../../src/store/live-events.repository.ts';

forEachBackend('live events', (use) => {
  test('pruned by age and count once every 256 ids; read after an id for some projects', async () => {
    const { db } = use();
    const now = new Date();
    for (const name of ['shop', 'other'])
      await db
        .insertInto('projects')
        .values({ id: `id-${name}`, name, description: '', created_at: now, updated_at: now })
        .execute();
    const insert = (project: string, count: number, age: string) =>
      sql`INSERT INTO live_events (project_id, type, data, at)
          SELECT ${project}, 'promotion.state', '{}'::jsonb, now() - ${age}::interval FROM generate_series(1, ${count})`.execute(
        db,
      );
    await insert('id-shop', 3, '2 days');
    await insert('id-other', 2, '1 hour');
    await insert('id-shop', 2, '1 minute');
    assert.deepEqual(await liveEventBounds(db), { oldest: 1, latest: 7 });

    const shop = await liveEventsAfter(db, { afterId: 0, projectIds: ['id-shop'], limit: 10 });
    assert.deepEqual(
      shop.map((e) => e.id),
      [1, 2, 3, 6, 7],
    );
    assert.deepEqual(
      (await liveEventsAfter(db, { afterId: 3, limit: 2 })).map((e) => [e.id, e.projectId]),
      [
        [4, 'id-other'],
        [5, 'id-other'],
      ],
    );
    assert.deepEqual(await liveEventsAfter(db, { afterId: 0, projectIds: [], limit: 10 }), []);

    // Not crossing a multiple of 256: nothing goes.
    await sql`SELECT live_events_written(255, 1)`.execute(db);
    assert.deepEqual(await liveEventBounds(db), { oldest: 1, latest: 7 });
    // Crossing it: the rows older than a day go.
    await sql`SELECT live_events_written(256, 1)`.execute(db);
    assert.deepEqual(await liveEventBounds(db), { oldest: 4, latest: 7 });
    // Beyond 10 000 rows the oldest go, however young.
    await insert('id-shop', 10_300, '1 second');
    await sql`SELECT live_events_written(10307, 300)`.execute(db);
    const { oldest, latest } = await liveEventBounds(db);
    assert.deepEqual([oldest, latest], [308, 10_307]);
  });
});
