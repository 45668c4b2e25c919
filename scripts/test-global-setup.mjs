// npm test's global setup (`node --test-global-setup`): one PostgreSQL for all test files, with a migrated template
// database, and one migrated PGlite data directory dumped to a file, instead of an initdb, a server start and two
// migrations in every test process. Test files find them through HOIST_TEST_POSTGRES_URL, HOIST_TEST_POSTGRES_TEMPLATE
// and HOIST_TEST_PGLITE_SNAPSHOT (test/helpers/backends.ts); a file run on its own makes its own as before. A run with
// web test files also gets one shared Chromium (HOIST_TEST_BROWSER_WS, test/helpers/browser.ts). Where Node
// strips the types itself (scripts/test.mjs) the TypeScript modules are imported as they are; else Node loads this
// file without tsx's hooks, and they come through tsImport.
//
// Nothing runs until this is done, so it counts in full towards npm test's time: the PostgreSQL server (initdb, in
// processes of its own) and the PGlite dump (initdb and the migrations in WebAssembly, here) are made at the same
// time, and the dump is kept in node_modules/.cache between runs under a hash of what makes it (src/store, which holds
// the migrations, src/errors.ts, this PGlite's version, test/helpers/backends.ts): a run after a migration changed
// makes a new one.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const load = async (path) =>
  process.features.typescript === 'transform'
    ? import(path)
    : (await import('tsx/esm/api')).tsImport(path, import.meta.url);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'hoist-test');
const TEMPLATE = 'hoist_migrated_template';
let server;
let browserServer;

function files(path) {
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? files(join(path, e.name)) : [join(path, e.name)]));
}

/** The migrated PGlite dump for this source tree: from the cache, or made (and cached). */
async function pgliteSnapshot() {
  const hash = createHash('sha256');
  for (const file of [
    ...files(join(ROOT, 'src', 'store')),
    join(ROOT, 'src', 'errors.ts'),
    join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'),
    join(ROOT, 'test', 'helpers', 'backends.ts'),
  ]) {
    hash
      .update(`${file.slice(ROOT.length)}\0`)
      .update(readFileSync(file))
      .update('\0');
  }
  const name = `pglite-${hash.digest('hex').slice(0, 16)}.tar`;
  const snapshot = join(CACHE, name);
  if (existsSync(snapshot)) return snapshot;
  const { migratedPGlite } = await load('../test/helpers/backends.ts');
  const bytes = Buffer.from(await (await migratedPGlite()).arrayBuffer());
  await mkdir(CACHE, { recursive: true });
  for (const old of readdirSync(CACHE)) if (/^pglite-.*\.tar/.test(old)) await rm(join(CACHE, old), { force: true });
  const partial = `${snapshot}.${process.pid}`;
  await writeFile(partial, bytes);
  await rename(partial, snapshot); // whole or not at all, for a run that is stopped half-way
  return snapshot;
}

async function postgresWithTemplate() {
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
  return server.url;
}

/**
 * One Chromium for every web test file, when the run has any (scripts/test.mjs sets HOIST_TEST_BROWSER=shared): each
 * file connects to it (test/helpers/browser.ts) instead of launching its own, and gets contexts of its own.
 */
async function sharedBrowser() {
  if (process.env.HOIST_TEST_BROWSER !== 'shared') return undefined;
  const { chromium } = await import('playwright-core');
  const { CHROMIUM, CHROMIUM_ARGS } = await load('../test/helpers/chromium.ts');
  browserServer = await chromium.launchServer({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return browserServer.wsEndpoint();
}

export async function globalSetup() {
  const [url, snapshot, browser] = await Promise.all([postgresWithTemplate(), pgliteSnapshot(), sharedBrowser()]);
  process.env.HOIST_TEST_POSTGRES_URL = url;
  process.env.HOIST_TEST_POSTGRES_TEMPLATE = TEMPLATE;
  process.env.HOIST_TEST_PGLITE_SNAPSHOT = snapshot;
  if (browser !== undefined) process.env.HOIST_TEST_BROWSER_WS = browser;
}

export async function globalTeardown() {
  await Promise.all([server?.stop(), browserServer?.close()]);
}
