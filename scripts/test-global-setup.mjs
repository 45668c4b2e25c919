// npm test's global setup (`node --test-global-setup`): one PostgreSQL for all test files, with a migrated template
// database, instead of an initdb, a server start and a migration in every test process. Test files find it through
// HOIST_TEST_POSTGRES_URL and HOIST_TEST_POSTGRES_TEMPLATE (test/helpers/backends.ts); a file run on its own starts
// its own server as before. Node loads this file without tsx's hooks, so the TypeScript modules come through tsImport.
import { tsImport } from 'tsx/esm/api';

const TEMPLATE = 'hoist_migrated_template';
let server;

export async function globalSetup() {
  const { startPostgres } = await tsImport('../test/harness/postgres.ts', import.meta.url);
  const { openDatabase } = await tsImport('../src/store/database.ts', import.meta.url);
  const { migrate } = await tsImport('../src/store/migrate.ts', import.meta.url);
  server = await startPostgres();
  const database = await openDatabase({ url: await server.createDatabase(TEMPLATE) });
  try {
    await migrate(database.db);
  } finally {
    await database.close(); // a template must have no connections while it is copied
  }
  process.env.HOIST_TEST_POSTGRES_URL = server.url;
  process.env.HOIST_TEST_POSTGRES_TEMPLATE = TEMPLATE;
}

export async function globalTeardown() {
  await server?.stop();
}
