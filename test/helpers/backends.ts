/**
 * Runs a store test suite on every database backend: embedded Postgres (PGlite, in memory) and a real PostgreSQL
 * (one server per test process, a fresh database per suite). Each suite gets a migrated, empty database.
 *
 * Migrating costs seconds per database (and creating an empty PGlite costs more: it runs initdb), so each test
 * process migrates once per backend and starts every fresh database from that: PGlite instances load a dump of a
 * migrated data directory, PostgreSQL databases are created from a migrated template database. Under `npm test` the
 * PostgreSQL server with its template, and the PGlite dump, are made once for all files (scripts/test-global-setup.mjs
 * sets HOIST_TEST_POSTGRES_URL, HOIST_TEST_POSTGRES_TEMPLATE and HOIST_TEST_PGLITE_SNAPSHOT); a file run alone makes
 * its own.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, before, after } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import pg from 'pg';
import { openDatabase, type Backend, type Database } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { sharedPostgres, type TestPostgres } from '../harness/postgres.ts';

export const BACKENDS: Backend[] = ['pglite', 'postgres'];

let pgliteSnapshot: Promise<Blob> | undefined;
const postgresTemplates = new WeakMap<TestPostgres, Promise<string>>();

/**
 * A dump of an in-memory PGlite data directory with every migration applied: read from HOIST_TEST_PGLITE_SNAPSHOT
 * when npm test's global setup made it, else made once per process.
 */
export function migratedPGlite(): Promise<Blob> {
  const made = process.env.HOIST_TEST_PGLITE_SNAPSHOT;
  if (made !== undefined) pgliteSnapshot ??= readFile(made).then((bytes) => new Blob([bytes]));
  pgliteSnapshot ??= (async () => {
    const pglite = await PGlite.create();
    const db = new Kysely<unknown>({ dialect: new PGliteDialect({ pglite }) });
    try {
      await migrate(db);
      return await pglite.dumpDataDir('none');
    } finally {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    }
  })();
  return pgliteSnapshot;
}

/** The name of a migrated database on this server that new databases copy (`CREATE DATABASE … TEMPLATE`). */
function migratedTemplate(server: TestPostgres): Promise<string> {
  let template = postgresTemplates.get(server);
  if (template === undefined) {
    template = (async () => {
      const name = `hoist_template_${randomBytes(6).toString('hex')}`;
      const database = await openDatabase({ url: await server.createDatabase(name) });
      try {
        await migrate(database.db as never);
      } finally {
        await database.close(); // a template must have no connections while it is copied
      }
      return name;
    })();
    postgresTemplates.set(server, template);
  }
  return template;
}

/** A new database copied from a migrated template; answers its URL. `adminUrl` ends in /postgres. */
async function createFromTemplate(adminUrl: string, template: string): Promise<string> {
  const name = `hoist_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await client.end();
  }
  return adminUrl.replace(/\/postgres$/, `/${name}`);
}

/**
 * The URL of a new migrated PostgreSQL database, for tests that connect by URL themselves (`hoist serve` replicas,
 * several in-process replicas): on npm test's server when there is one, not on a server of the test's own.
 */
export async function freshPostgres(): Promise<string> {
  const { HOIST_TEST_POSTGRES_URL: shared, HOIST_TEST_POSTGRES_TEMPLATE: template } = process.env;
  if (shared !== undefined && template !== undefined) return createFromTemplate(shared, template);
  const server = await sharedPostgres();
  return createFromTemplate(server.url, await migratedTemplate(server));
}

export async function freshDatabase(backend: Backend): Promise<Database> {
  return backend === 'pglite'
    ? openDatabase({ loadDataDir: await migratedPGlite() })
    : openDatabase({ url: await freshPostgres() });
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
