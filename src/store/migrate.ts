/**
 * Versioned migrations, applied in order at start (and by `hoist db migrate`). A database that has migrations this
 * binary does not know was migrated by a newer hoist: refuse it rather than run old code on a new schema.
 *
 * N replicas on one PostgreSQL start at once (a rollout, a node failure): the whole of `migrate` runs in one
 * transaction under a transaction-level advisory lock, so one replica applies the migrations while the others wait,
 * and a waiting replica then reads the finished schema: it applies nothing, or it refuses a newer hoist's schema
 * with the message below rather than failing half-way. The lock goes with the transaction (commit, rollback, or a
 * replica that dies: its connection closes), so nothing is ever left locked.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import { DatabaseUnavailable } from '../errors.ts';
import * as m0001 from './migrations/0001-initial.ts';
import * as m0002 from './migrations/0002-artifacts-policies.ts';
import * as m0003 from './migrations/0003-promotions.ts';
import * as m0004 from './migrations/0004-promotion-jobs.ts';
import * as m0005 from './migrations/0005-policy-skip.ts';
import * as m0006 from './migrations/0006-notifications.ts';
import * as m0007 from './migrations/0007-attached-reports.ts';
import * as m0008 from './migrations/0008-automation.ts';
import * as m0009 from './migrations/0009-promotion-plans.ts';
import * as m0010 from './migrations/0010-leased-queue.ts';
import * as m0011 from './migrations/0011-tags.ts';
import * as m0013 from './migrations/0013-namespaces-protected.ts';
import * as m0015 from './migrations/0015-sso.ts';
import * as m0016 from './migrations/0016-trust.ts';
import * as m0017 from './migrations/0017-history-indexes.ts';
import * as m0018 from './migrations/0018-live-events.ts';
import * as m0019 from './migrations/0019-promotion-retry.ts';
import * as m0020 from './migrations/0020-environment-holdings.ts';
import * as m0021 from './migrations/0021-releases.ts';
import * as m0022 from './migrations/0022-gitops.ts';
import * as m0023 from './migrations/0023-promotion-attestations.ts';
import * as m0024 from './migrations/0024-sigstore-trust.ts';
import * as m0026 from './migrations/0026-unlocked-commit-order.ts';
import * as m0027 from './migrations/0027-attestation-jobs.ts';
import * as m0029 from './migrations/0029-identity-changes.ts';
import * as m0030 from './migrations/0030-settled-horizon-per-database.ts';
import * as m0032 from './migrations/0032-artifacts-by-digest.ts';

export const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-artifacts-policies': m0002,
  '0003-promotions': m0003,
  '0004-promotion-jobs': m0004,
  '0005-policy-skip': m0005,
  '0006-notifications': m0006,
  '0007-attached-reports': m0007,
  '0008-automation': m0008,
  '0009-promotion-plans': m0009,
  '0010-leased-queue': m0010,
  '0011-tags': m0011,
  '0013-namespaces-protected': m0013,
  '0015-sso': m0015,
  '0016-trust': m0016,
  '0017-history-indexes': m0017,
  '0018-live-events': m0018,
  '0019-promotion-retry': m0019,
  '0020-environment-holdings': m0020,
  '0021-releases': m0021,
  '0022-gitops': m0022,
  '0023-promotion-attestations': m0023,
  '0024-sigstore-trust': m0024,
  '0026-unlocked-commit-order': m0026,
  '0027-attestation-jobs': m0027,
  '0029-identity-changes': m0029,
  '0030-settled-horizon-per-database': m0030,
  '0032-artifacts-by-digest': m0032,
};

export interface MigrationReport {
  applied: string[];
  current: string;
  /** What the migrations just applied report about existing data (e.g. namespace grants derived, conflicts). */
  notes: string[];
}

/** `pg_advisory_xact_lock` key that serializes migrations across replicas (any 64-bit number only hoist uses). */
export const MIGRATION_LOCK_KEY = 0x686f697374n; // "hoist"

export async function migrate(db: Kysely<unknown>): Promise<MigrationReport> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK_KEY)})`.execute(trx);
    return migrateLocked(trx);
  });
}

/** Whether a table exists, asked without an error (an error would abort the migration's transaction). */
async function tableExists(db: Transaction<unknown>, name: string): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`SELECT to_regclass(${name}) IS NOT NULL AS found`.execute(db);
  return rows[0]?.found === true;
}

async function migrateLocked(db: Transaction<unknown>): Promise<MigrationReport> {
  // Numbers were handed out to parallel work, so a database may have run a later one before an earlier one lands.
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
    allowUnorderedMigrations: true,
  });
  const known = new Set(Object.keys(MIGRATIONS));
  const done = (await migrator.getMigrations()).filter((m) => m.executedAt !== undefined).map((m) => m.name);
  // getMigrations only lists known ones; ask the table for the rest.
  const executed = (await tableExists(db, 'kysely_migration'))
    ? await db
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute()
        .then((rows) => rows.map((r) => (r as { name: string }).name))
    : done;
  const unknown = executed.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new DatabaseUnavailable(
      `the database was migrated by a newer hoist (it has migration ${unknown.join(', ')}, this binary knows up to ${[...known].at(-1)}); upgrade hoist`,
    );
  }
  const { results, error } = await migrator.migrateToLatest();
  if (error) throw new DatabaseUnavailable(`migration failed: ${(error as Error).message}`, { cause: error });
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  return { applied, current: [...known].at(-1) ?? '', notes: await notesOf(db, applied) };
}

async function notesOf(db: Transaction<unknown>, applied: string[]): Promise<string[]> {
  if (applied.length === 0 || !(await tableExists(db, 'migration_notes'))) return [];
  const rows = await db
    .selectFrom('migration_notes' as never)
    .select(['migration' as never, 'line' as never])
    .where('migration' as never, 'in', applied as never)
    .orderBy('seq' as never)
    .execute();
  return rows.map((r) => `${(r as { migration: string }).migration}: ${(r as { line: string }).line}`);
}
