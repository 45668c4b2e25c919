/**
 * Opening the database: embedded Postgres (PGlite) in a data directory by default, or PostgreSQL through `pg` when a
 * URL is given. Both speak the Postgres dialect, so one schema, one set of migrations and one set of queries serve
 * both. Connection failures become DatabaseUnavailable with what to check.
 */
import {
  DummyDriver,
  Kysely,
  PGliteDialect,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import { mkdirSync } from 'node:fs';
import { DatabaseUnavailable } from '../errors.ts';
import { embeddedPostgresSettings, tuneWebAssemblyForMemory } from './embedded-tuning.ts';
import { EmbeddedDialect } from './embedded-dialect.ts';
import { EmbeddedThread } from './embedded-thread.ts';
import { inProcessNotifier, postgresNotifier, type Notifier } from './notifier.ts';
import { preparingClient, StatementNames } from './prepared-statements.ts';
import { ConnectionTurns, ReservedReadsDialect } from './reserved-reads.ts';
import type { Schema } from './schema.ts';

export type Backend = 'pglite' | 'postgres';

export interface Database {
  db: Kysely<Schema>;
  backend: Backend;
  /** Where it lives, for messages (a directory, `memory`, or the URL without its password). */
  location: string;
  ping(): Promise<void>;
  /** Connection counts for metrics. */
  pool(): { total: number; idle: number; waiting: number };
  /** Wake-ups between workers: in process for the embedded database, LISTEN/NOTIFY across PostgreSQL replicas. */
  notifier: Notifier;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** `postgres://…`: PostgreSQL. Otherwise embedded. */
  url?: string;
  /** Embedded database directory; omitted means in memory (tests). */
  dataDir?: string;
  /** PostgreSQL: connections statements other than reads may hold at once (default 10). */
  poolSize?: number;
  /** PostgreSQL: connections kept for reads (GET and HEAD requests) beyond `poolSize` (reserved-reads.ts). */
  readReserve?: number;
  /** PostgreSQL: statements sent often are prepared once per connection (prepared-statements.ts; default on). */
  preparedStatements?: boolean;
  /**
   * Embedded only: start from this dump of a data directory (`dumpDataDir()`) instead of an empty one. Tests open
   * every in-memory database from one migrated snapshot: creating and migrating each anew costs seconds.
   */
  loadDataDir?: Blob;
}

/** PostgreSQL connections kept for reads by default, beyond the pool size (reserved-reads.ts). */
export const READ_RESERVE = 4;

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the database URL';
  }
}

export async function openDatabase(o: DatabaseOptions): Promise<Database> {
  if (o.url !== undefined) {
    const { default: pg } = await import('pg');
    const others = o.poolSize ?? 10;
    const max = others + (o.readReserve ?? READ_RESERVE);
    const prepared = o.preparedStatements ?? process.env.HOIST_PREPARED_STATEMENTS !== 'off';
    const pool = new pg.Pool({
      connectionString: o.url,
      max,
      connectionTimeoutMillis: 5000,
      ...(prepared ? { Client: preparingClient(pg.Client, new StatementNames()) } : {}),
    });
    // A dropped idle connection must not crash the process; the next query gets a fresh one.
    pool.on('error', () => {});
    // Statements other than reads hold at most `others` connections; the rest are kept for reads (reserved-reads.ts).
    const turns = new ConnectionTurns(max, others, 5000);
    const db = new Kysely<Schema>({ dialect: new ReservedReadsDialect({ pool }, turns) });
    const notifier = postgresNotifier({
      pool,
      connect: () => new pg.Client({ connectionString: o.url, connectionTimeoutMillis: 5000 }),
    });
    const database: Database = {
      db,
      backend: 'postgres',
      location: redact(o.url),
      ping: async () => {
        await pool.query('SELECT 1');
      },
      pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount + turns.waiting }),
      notifier,
      close: async () => {
        await notifier.close();
        await db.destroy();
      },
    };
    try {
      await database.ping();
    } catch (e) {
      await db.destroy();
      const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new DatabaseUnavailable(
        `cannot reach PostgreSQL at ${database.location}: ${reason}; is it running, and is --database-url right?`,
        { cause: e },
      );
    }
    return database;
  }
  tuneWebAssemblyForMemory();
  if (o.dataDir !== undefined) mkdirSync(o.dataDir, { recursive: true });
  const inThread = process.env.HOIST_EMBEDDED_THREAD === 'off';
  let pglite: Pick<EmbeddedThread, 'query' | 'listen' | 'close' | 'closed'>;
  try {
    const settings = embeddedPostgresSettings();
    if (inThread) {
      const { PGlite } = await import('@electric-sql/pglite');
      pglite = await PGlite.create(o.dataDir, {
        startParams: [...PGlite.defaultStartParams, ...settings],
        ...(o.loadDataDir ? { loadDataDir: o.loadDataDir } : {}),
      });
    } else {
      pglite = await EmbeddedThread.open({
        settings,
        ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
        ...(o.loadDataDir ? { loadDataDir: o.loadDataDir } : {}),
      });
    }
  } catch (e) {
    throw new DatabaseUnavailable(
      `cannot open the embedded database in ${o.dataDir ?? 'memory'}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  // On its own thread, statements are sent as they come (embedded-dialect.ts); in-thread, one at a time (Kysely's).
  const db = new Kysely<Schema>({
    dialect:
      pglite instanceof EmbeddedThread ? new EmbeddedDialect(pglite) : new PGliteDialect({ pglite: pglite as never }),
  });
  const notifier = inProcessNotifier((channel, fn) => pglite.listen(channel, fn));
  return {
    db,
    backend: 'pglite',
    location: o.dataDir ?? 'memory',
    ping: async () => {
      await pglite.query('SELECT 1');
    },
    pool: () => ({ total: 1, idle: 0, waiting: pglite instanceof EmbeddedThread ? pglite.waiting : 0 }),
    notifier,
    close: async () => {
      await notifier.close();
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

/**
 * A database that holds no connection and answers every query with nothing (Kysely's DummyDriver): enough to build
 * the server's routes without data, for the OpenAPI document. Starting an embedded database for that took seconds.
 */
export function detachedDatabase(): Database {
  const db = new Kysely<Schema>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  const notifier = inProcessNotifier();
  return {
    db,
    backend: 'postgres',
    location: 'detached',
    ping: async () => {},
    pool: () => ({ total: 0, idle: 0, waiting: 0 }),
    notifier,
    close: async () => {
      await notifier.close();
      await db.destroy();
    },
  };
}
