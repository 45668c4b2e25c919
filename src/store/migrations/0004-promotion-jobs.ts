/** Durable execution of promotions: a queued target is its own job row, claimed with a lease and retried with backoff. */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `ALTER TABLE promotion_targets ADD COLUMN attempts integer NOT NULL DEFAULT 0`,
  `ALTER TABLE promotion_targets ADD COLUMN run_after timestamptz`,
  `ALTER TABLE promotion_targets ADD COLUMN lease_until timestamptz`,
  `ALTER TABLE promotion_targets ADD COLUMN result jsonb`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
