/**
 * Reading the live events table for the event stream. The database writes the rows itself, in the transaction of
 * each promotion change, in id order, and prunes them (triggers of migration 0018, which says why and how).
 */
import type { Kysely, Transaction } from 'kysely';
import type { LiveEvent, LiveEventType } from '../promotion/live-event.ts';
import type { Schema } from './schema.ts';

/** Durable events: a wake-up sent by the writers' commit (the payload is the newest id); readers fetch the rows. */
export const LIVE_EVENTS_CHANNEL = 'hoist_live_events';
/** Copy progress: the payload is the event itself (JSON, far below PostgreSQL's 8000-byte limit). */
export const LIVE_PROGRESS_CHANNEL = 'hoist_live_progress';

type Db = Kysely<Schema> | Transaction<Schema>;

/** The oldest and newest id kept (0 and 0 when there is none). */
export async function liveEventBounds(db: Db): Promise<{ oldest: number; latest: number }> {
  const row = await db
    .selectFrom('live_events')
    .select((s) => [s.fn.min('id').as('oldest'), s.fn.max('id').as('latest')])
    .executeTakeFirst();
  return { oldest: Number(row?.oldest ?? 0), latest: Number(row?.latest ?? 0) };
}

/** Events after `afterId` in id order, of the given projects (undefined: all), at most `limit`. */
export async function liveEventsAfter(
  db: Db,
  o: { afterId: number; projectIds?: readonly string[]; limit: number },
): Promise<LiveEvent[]> {
  if (o.projectIds !== undefined && o.projectIds.length === 0) return [];
  let q = db
    .selectFrom('live_events')
    .select(['id', 'project_id', 'type', 'data', 'at'])
    .where('id', '>', String(o.afterId))
    .orderBy('id')
    .limit(o.limit);
  if (o.projectIds !== undefined) q = q.where('project_id', 'in', o.projectIds);
  const rows = await q.execute();
  return rows.map((r) => ({
    id: Number(r.id),
    type: r.type as LiveEventType,
    projectId: r.project_id,
    data: {
      ...((typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as LiveEvent['data']),
      at: new Date(r.at).toISOString(),
    },
  }));
}
