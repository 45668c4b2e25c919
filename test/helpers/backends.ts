/**
 * Runs a store test suite on every database backend: embedded Postgres (PGlite, in memory) and a real PostgreSQL
 * (one server per test process, a fresh database per suite). Each suite gets a migrated, empty database.
 */
import { describe, before, after } from 'node:test';
import { openDatabase, type Backend, type Database } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { sharedPostgres } from '../harness/postgres.ts';

export const BACKENDS: Backend[] = ['pglite', 'postgres'];

export async function freshDatabase(backend: Backend): Promise<Database> {
  const database =
    backend === 'pglite'
      ? await openDatabase({})
      : await openDatabase({ url: await (await sharedPostgres()).createDatabase() });
  await migrate(database.db as never);
  return database;
}

/** `describe` once per backend; `use()` inside a test returns that suite's database. */
export function forEachBackend(name: string, suite: (use: () => Database, backend: Backend) => void): void {
  for (const backend of BACKENDS) {
    void describe(`${name} [${backend}]`, () => {
      let database: Database | undefined;
      before(async () => {
        database = await freshDatabase(backend);
      });
      after(async () => {
        await database?.close();
      });
      suite(() => {
        if (!database) throw new Error('database not open yet');
        return database;
      }, backend);
    });
  }
}
