// npm test's global setup (`node --test-global-setup`): one PostgreSQL for all test files, with a migrated template
// database, and one migrated PGlite data directory dumped to a file, instead of an initdb, a server start and two
// migrations in every test process. Test files find them through HOIST_TEST_POSTGRES_URL, HOIST_TEST_POSTGRES_TEMPLATE
// and HOIST_TEST_PGLITE_SNAPSHOT (test/helpers/backends.ts); a file run on its own makes its own as before. Where Node
// strips the types itself (scripts/test.mjs) the TypeScript modules are imported as they are; else Node loads this
// file without tsx's hooks, and they come through tsImport.
import { Buffer } from 'node:buffer';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const load = async (path) =>
  process.features.typescript === 'transform'
    ? import(path)
    : (await import('tsx/esm/api')).tsImport(path, import.meta.url);

const TEMPLATE = 'hoist_migrated_template';
let server;
let snapshotDir;

export async function globalSetup() {
  const { startPostgres } = await load('../test/harness/postgres.ts');
  const { openDatabase } = await load('../src/store/database.ts');
  const { migrate } = await load('../src/store/migrate.ts');
  server = await startPostgres();
  const database = await openDatabase({ url: await server.createDatabase(TEMPLATE) });
  try {
    await migrate(database.db);
  } finally {
    await database.close(); // a template must have no connections while it is copied
  }
  process.env.HOIST_TEST_POSTGRES_URL = server.url;
  process.env.HOIST_TEST_POSTGRES_TEMPLATE = TEMPLATE;

  const { migratedPGlite } = await load('../test/helpers/backends.ts');
  snapshotDir = await mkdtemp(join(tmpdir(), 'hoist-pglite-snapshot-'));
  const snapshot = join(snapshotDir, 'migrated.tar');
  await writeFile(snapshot, Buffer.from(await (await migratedPGlite()).arrayBuffer()));
  process.env.HOIST_TEST_PGLITE_SNAPSHOT = snapshot;
}

export async function globalTeardown() {
  await server?.stop();
  if (snapshotDir !== undefined) await rm(snapshotDir, { recursive: true, force: true });
}
