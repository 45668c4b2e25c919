/**
 * Soak times, for the tick that moves builds on once they have soaked: which artifacts finished soaking in a span of
 * time, and when the next one will, so that the tick can sleep until then instead of looking every second.
 */
import { sql, type Kysely } from 'kysely';
import type { Schema } from './schema.ts';

const soakEnd = sql<Date>`l.since + e.soak_seconds * interval '1 second'`;

/** The artifacts whose soak time in an environment ended in (since, now]. */
export async function soakEndedBetween(db: Kysely<Schema>, since: Date, now: Date): Promise<string[]> {
  const rows = await db
    .selectFrom('artifact_locations as l')
    .innerJoin('environments as e', 'e.id', 'l.environment_id')
    .select('l.artifact_id')
    .where('e.soak_seconds', '>', 0)
    .where(sql<boolean>`${soakEnd} <= ${now}`)
    .where(sql<boolean>`${soakEnd} > ${since}`)
    .execute();
  return rows.map((r) => r.artifact_id);
}

/** When the next soak time after `after` ends (undefined: none is running). */
export async function nextSoakEnd(db: Kysely<Schema>, after: Date): Promise<Date | undefined> {
  const row = await db
    .selectFrom('artifact_locations as l')
    .innerJoin('environments as e', 'e.id', 'l.environment_id')
    .select(sql<Date | null>`min(${soakEnd})`.as('next'))
    .where('e.soak_seconds', '>', 0)
    .where(sql<boolean>`${soakEnd} > ${after}`)
    .executeTakeFirst();
  return row?.next ? new Date(row.next) : undefined;
}
