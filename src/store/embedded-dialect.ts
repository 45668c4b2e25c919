/**
 * Kysely's dialect for the embedded database on its own thread (embedded-thread.ts): the PostgreSQL compiler and
 * adapter, with a driver that lets many statements be in flight at once.
 *
 * Why not Kysely's PGlite dialect: it declares a single connection, so Kysely holds one lock around every statement
 * and every transaction. A statement was sent to the database's thread only once the previous one had come back and
 * the server's thread had got round to the next waiter: under load (`npm run bench:load`) both threads were idle a
 * quarter to two thirds of the time, each waiting for the other, and a simple GET queued behind every statement sent
 * before it. Here a plain statement is sent at once and waits in the database's thread, where PGlite itself orders
 * it: after the transaction that is open, if any (it never runs inside another caller's transaction). A transaction
 * is a connection of its own (a numbered transaction in the thread), so its statements are its alone.
 */
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import type { EmbeddedThread } from './embedded-thread.ts';

/** One caller's use of the database: plain statements, or the statements of the transaction it opened. */
class EmbeddedConnection implements DatabaseConnection {
  /** The open transaction's number in the database's thread, if one is open. */
  tx: number | undefined;

  constructor(readonly thread: EmbeddedThread) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const params = query.parameters as unknown[];
    const r =
      this.tx === undefined
        ? await this.thread.query<R>(query.sql, params)
        : await this.thread.queryIn<R>(this.tx, query.sql, params);
    return {
      rows: r.rows ?? [],
      ...(r.affectedRows != null ? { numAffectedRows: BigInt(r.affectedRows) } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the embedded database does not stream results');
  }
}

class EmbeddedDriver implements Driver {
  constructor(private readonly thread: EmbeddedThread) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new EmbeddedConnection(this.thread);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // Isolation and access modes are PostgreSQL's defaults: the embedded database has one session, so a transaction
    // is serializable in fact (nothing else runs while it is open).
    (connection as EmbeddedConnection).tx = await this.thread.begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await this.#end(connection as EmbeddedConnection, true);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await this.#end(connection as EmbeddedConnection, false);
  }

  async #end(connection: EmbeddedConnection, commit: boolean): Promise<void> {
    const tx = connection.tx;
    if (tx === undefined) return;
    connection.tx = undefined;
    await this.thread.end(tx, commit);
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quote(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${quote(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release ${quote(name)}`));
  }

  async releaseConnection(): Promise<void> {}

  /** The thread is closed by its owner (database.ts), after Kysely. */
  async destroy(): Promise<void> {}
}

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export class EmbeddedDialect implements Dialect {
  constructor(private readonly thread: EmbeddedThread) {}
  createAdapter = (): PostgresAdapter => new PostgresAdapter();
  createDriver = (): Driver => new EmbeddedDriver(this.thread);
  createIntrospector: Dialect['createIntrospector'] = (db) => new PostgresIntrospector(db);
  createQueryCompiler = (): QueryCompiler => new PostgresQueryCompiler();
}
