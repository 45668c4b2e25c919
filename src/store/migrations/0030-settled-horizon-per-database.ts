/**
 * The settled horizon of migration 0026, per database. A row is settled once no transaction that might still commit a
 * smaller number is running; 0026 took the snapshot's `xmin`, the oldest transaction running anywhere on the server.
 * On a shared PostgreSQL cluster a long writing transaction in *another* database then held back hoist's live events
 * and its audit sealing (and `hoist audit verify` reported its rows as unsealed) for as long as it ran.
 *
 * The horizon is now the oldest running transaction of the snapshot that is not positively known to belong to another
 * database: `pg_stat_activity` names each backend's database and current transaction id, and a transaction id belongs
 * to one database for its whole life, so a stale or newer view of it is still true. What it does not show (another
 * user's sessions without `pg_read_all_stats`, prepared transactions, a backend that started after the view was
 * read) is kept, so the horizon still never passes a transaction of this database. With none left it is the
 * snapshot's `xmax`: every smaller id has completed.
 *
 * Readers compute it once per statement (`(SELECT hoist_settled_horizon())`, an init plan) and compare each row's
 * `xmin` with it (`hoist_unsettled(xmin, horizon)`). PGlite has one backend: there the horizon is `xmax`, as before.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE FUNCTION hoist_settled_horizon() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(
      (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) x
        WHERE x::text::bigint % 4294967296 NOT IN (
          SELECT a.backend_xid::text::bigint FROM pg_stat_activity a
          WHERE a.backend_xid IS NOT NULL AND a.datid IS NOT NULL
            AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))),
      pg_snapshot_xmax(pg_current_snapshot())::text::bigint) $$`,
  // Whether a row written by (sub)transaction \`written\` may still have a transaction with a smaller number before it;
  // 32-bit ids compared within 2^31 of each other, as in migration 0026.
  `CREATE FUNCTION hoist_unsettled(written xid, horizon bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT ((written::text::bigint - horizon % 4294967296 + 4294967296) % 4294967296) < 2147483648 $$`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
