/**
 * A promotion target that fails for a transient reason (a registry down, a 5xx, a refused connection) is retried for
 * a configurable time, not a fixed number of attempts: `failing_since` is when its current run of failures began
 * (null while it has not failed, and again after a person re-queues it with `hoist retry`).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE promotion_targets ADD COLUMN failing_since timestamptz`.execute(db);
}
