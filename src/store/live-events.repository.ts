/**
 * Reading the live events table for the event stream. The database writes the rows itself, in the transaction of
 * each promotion change, and prunes them (triggers of migration 0018, which says why and how). Ids come from a plain
 * sequence, without a lock (migration 0026), so they may commit out of order: a reader takes rows in id order only up
 * to the first row that is not settled yet (a transaction of this database that may still commit a smaller id is
 * running: migrations 0026 and 0030), so that no committed event is ever passed over, and looks again when `held`
 * says rows wait.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { LiveEvent, LiveEventType } from '../promotion/live-event.ts';
import type { Schema } from './schema.ts';

/** Durable events: a wake-up sent by the writers' commit (the payload is the newest id); readers fetch the rows. */
export const LIVE_EVENTS_CHANNEL = 'hoist_live_events';
/** Copy progress: the payload is the event itself (JSON, far below PostgreSQL's 8000-byte limit). */
export const LIVE_PROGRESS_CHANNEL = 'hoist_live_progress';

type Db = Kysely<Schema> | Transaction<Schema>;

/** The newest id below which every event is settled (see above). */
const SETTLED_BELOW = (afterId: number) => sql<string | number | null>`(SELECT min(id) FROM live_events
  WHERE id > ${String(afterId)} AND hoist_unsettled(xmin, (SELECT hoist_settled_horizon())))`;

/**
 * The oldest id kept and the newest one a reader may start after (0 and 0 when there is none): the newest settled
 * event before the first that is not, so that a reader starting there misses nothing committed later.
 */
export async function liveEventBounds(db: Db): Promise<{ oldest: number; latest: number }> {
  const { rows } = await sql<{ oldest: string | number | null; latest: string | number | null }>`
    SELECT min(id) AS oldest, max(id) FILTER (WHERE id < coalesce(${SETTLED_BELOW(0)}, 9223372036854775807)) AS latest
    FROM live_events`.execute(db);
  const row = rows[0];
  return { oldest: Number(row?.oldest ?? 0), latest: Number(row?.latest ?? 0) };
}

export interface LiveEventsPage {
  events: LiveEvent[];
  /** Committed events wait behind a transaction still in flight: read again shortly. */
  held: boolean;
}

interface EventRow {
  id: string | number | null;
  project_id: string;
  type: string;
  data: unknown;
  at: Date | string;
  stop: string | number | null;
}

/** Settled events after `afterId` in id order, of the given projects (undefined: all), at most `limit`. */
export async function readLiveEvents(
  db: Db,
  o: { afterId: number; projectIds?: readonly string[]; limit: number },
): Promise<LiveEventsPage> {
  if (o.projectIds !== undefined && o.projectIds.length === 0) return { events: [], held: false };
  const projects =
    o.projectIds === undefined ? sql`` : sql`AND project_id IN (${sql.join(o.projectIds.map((p) => sql`${p}`))})`;
  // One statement: the settledness test and the rows read see the same snapshot.
  const { rows } = await sql<EventRow>`
    WITH stop AS (SELECT ${SETTLED_BELOW(o.afterId)} AS id)
    SELECT e.id, e.project_id, e.type, e.data, e.at, (SELECT id FROM stop) AS stop
    FROM (SELECT 1) one LEFT JOIN LATERAL (
      SELECT id, project_id, type, data, at FROM live_events
      WHERE id > ${String(o.afterId)} AND id < coalesce((SELECT id FROM stop), 9223372036854775807) ${projects}
      ORDER BY id LIMIT ${o.limit}) e ON true
    ORDER BY e.id`.execute(db);
  const held = rows[0]?.stop !== null && rows[0]?.stop !== undefined;
  const events = rows
    .filter((r) => r.id !== null)
    .map((r) => ({
      id: Number(r.id),
      type: r.type as LiveEventType,
      projectId: r.project_id,
      data: {
        ...((typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as LiveEvent['data']),
        at: new Date(r.at).toISOString(),
      },
    }));
  return { events, held };
}

/** Settled events after `afterId` in id order, of the given projects (undefined: all), at most `limit`. */
export async function liveEventsAfter(
  db: Db,
  o: { afterId: number; projectIds?: readonly string[]; limit: number },
): Promise<LiveEvent[]> {
  return (await readLiveEvents(db, o)).events;
}
