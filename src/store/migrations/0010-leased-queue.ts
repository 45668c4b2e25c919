/**
 * One leased queue: every job table gets a fencing token (`lease_token`, the lease generation, incremented on each
 * claim) so a worker that stalled past its lease can no longer change the job; `named_leases` lets replicas share
 * periodic work (the automation tick, the poller of one registry) so that it runs once in total, with a cursor that
 * remembers how far the work got.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `ALTER TABLE promotion_targets ADD COLUMN lease_token integer NOT NULL DEFAULT 0`,
  `ALTER TABLE notification_deliveries ADD COLUMN lease_token integer NOT NULL DEFAULT 0`,
  `ALTER TABLE push_events ADD COLUMN lease_token integer NOT NULL DEFAULT 0`,
  `CREATE INDEX promotion_targets_due ON promotion_targets (state, run_after)`,
  `CREATE TABLE named_leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    token integer NOT NULL,
    lease_until timestamptz NOT NULL,
    cursor timestamptz
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
