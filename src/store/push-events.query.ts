/** Reads of received push events: newest first, a page at a time, only those in some projects' namespaces. */
import type { Kysely } from 'kysely';
import { inNamespacesOf } from './namespaces.repository.ts';
import type { Schema } from './schema.ts';
import { decodeCursor, olderThan, pageOf, pageSize } from './time-cursor.ts';

export async function listPushEvents(
  db: Kysely<Schema>,
  f: { limit?: number; cursor?: string; projectIds?: readonly string[] | undefined },
) {
  const limit = pageSize(f.limit);
  const projectIds = f.projectIds;
  const rows = await db
    .selectFrom('push_events as e')
    .innerJoin('registries as r', 'r.id', 'e.registry_id')
    .selectAll('e')
    .select('r.name as registry')
    .$if(projectIds !== undefined, (q) => q.where(inNamespacesOf(projectIds ?? [], 'e')))
    .$if(f.cursor !== undefined, (q) => q.where(olderThan('e.received_at', 'e.id', decodeCursor(f.cursor ?? ''))))
    .orderBy('e.received_at', 'desc')
    .orderBy('e.id', 'desc')
    .limit(limit + 1)
    .execute();
  const page = pageOf(rows, limit, (r) => ({ at: r.received_at, id: r.id }));
  return { rows: page.items, nextCursor: page.nextCursor };
}
