/**
 * Named prepared statements for the embedded database's thread (embedded-thread.ts): each distinct SQL text hoist
 * sends is parsed once and kept under a name, and every later call only binds its parameters and executes it.
 *
 * Why: PGlite sends every query as an unnamed statement, so PostgreSQL parses, analyses and plans it on every call,
 * in WebAssembly (run by V8's baseline compiler, embedded-tuning.ts). Under `npm run bench:promote` the database's
 * thread was the bottleneck (86% busy), and its costliest statements were the runner's and the attestor's 9-table
 * joins: ~6 ms of planning for 0.4 ms of execution each. A named statement is planned with its parameters for its
 * first five executions, then PostgreSQL keeps a generic plan when that is no costlier (plan_cache_mode auto), so the
 * joins are planned once; a 7-table join measured 11–25 ms a call unnamed, 5 ms prepared.
 *
 * What PostgreSQL does not do for us: a statement whose result columns changed under it (a migration added a column
 * to a `select *`) fails with "cached plan must not change result type". So any statement that is not plain DML or
 * transaction control (DDL, a DO block) marks the cache stale: named statements are not used until the next call
 * outside a transaction has deallocated them all. The cache is bounded (least recently used statements are closed).
 */
import type { parse, PGlite, protocol, Results } from '@electric-sql/pglite';

interface PGliteModule {
  protocol: typeof protocol;
  parse: typeof parse;
}

/** The PGlite internals this uses: the same calls its own `query` makes (PGlite 0.5's base.ts `#runQuery`). */
interface PGliteInternals {
  execProtocolStream(message: Uint8Array, options: { syncToFs: boolean }): Promise<unknown[]>;
  _runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>;
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
  syncToFs(): Promise<void>;
  serializers: Record<number, (value: unknown) => string>;
  parsers: Record<number, (value: string, typeId: number) => unknown>;
}

/** Statements that may be named: plain DML, one statement. */
const DML = /^\s*(?:select|insert|update|delete|with)\b/i;
/** Statements that change nothing a named statement depends on. */
const HARMLESS = /^\s*(?:select|insert|update|delete|with|savepoint|release|rollback|commit|begin|set|show|notify)\b/i;

/** How many named statements are kept at most (hoist sends a few hundred distinct texts; the rest are re-parsed). */
export const MAX_PREPARED_STATEMENTS = 400;

export class PreparedStatements {
  /** SQL text → its statement's name and parameter types; in order of last use (oldest first). */
  readonly #statements = new Map<string, { name: string; types: number[] }>();
  #next = 1;
  /** DDL ran since the statements were prepared: do not use them until they are deallocated. */
  #stale = false;
  readonly #db: PGliteInternals;

  constructor(
    pglite: PGlite,
    private readonly pg: PGliteModule,
    private readonly max = MAX_PREPARED_STATEMENTS,
  ) {
    this.#db = pglite as unknown as PGliteInternals;
  }

  /** Prepared statements kept now (for tests). */
  get size(): number {
    return this.#statements.size;
  }

  /**
   * Runs `sql` as PGlite's `query` would (rows as objects), as a named statement where it may be one. `inTransaction`:
   * the caller holds the database's transaction (PGlite's `tx.query`); otherwise it waits for any open transaction.
   */
  async query<T>(
    sql: string,
    params: readonly unknown[],
    inTransaction: boolean,
    fallback: () => Promise<Results<T>>,
  ): Promise<Results<T>> {
    if (!HARMLESS.test(sql)) {
      this.#stale = true;
      return fallback();
    }
    if (!DML.test(sql)) return fallback();
    if (this.#stale) {
      if (inTransaction) return fallback();
      return this.#db._runExclusiveTransaction(async () => {
        if (this.#stale) await this.#deallocateAll();
        return this.#run<T>(sql, params, false);
      });
    }
    return inTransaction
      ? this.#run<T>(sql, params, true)
      : this.#db._runExclusiveTransaction(() => this.#run<T>(sql, params, false));
  }

  async #deallocateAll(): Promise<void> {
    await this.#db._runExclusiveQuery(async () => {
      const { serialize } = this.pg.protocol;
      try {
        await this.#db.execProtocolStream(serialize.query('DEALLOCATE ALL'), { syncToFs: false });
      } finally {
        await this.#db.execProtocolStream(serialize.sync(), { syncToFs: false });
      }
    });
    this.#statements.clear();
    this.#stale = false;
  }

  #run<T>(sql: string, params: readonly unknown[], inTransaction: boolean): Promise<Results<T>> {
    const { serialize } = this.pg.protocol;
    const send = (message: Uint8Array) => this.#db.execProtocolStream(message, { syncToFs: false });
    return this.#db._runExclusiveQuery(async () => {
      const messages: unknown[] = [];
      try {
        let statement = this.#statements.get(sql);
        if (statement) {
          // Most recently used last.
          this.#statements.delete(sql);
          this.#statements.set(sql, statement);
        } else {
          const oldest = this.#statements.size >= this.max ? this.#statements.entries().next().value : undefined;
          if (oldest) {
            this.#statements.delete(oldest[0]);
            await send(serialize.close({ type: 'S', name: oldest[1].name }));
          }
          const name = `hoist_${this.#next++}`;
          messages.push(...(await send(serialize.parse({ name, text: sql }))));
          const described = await send(serialize.describe({ type: 'S', name }));
          statement = { name, types: this.pg.parse.parseDescribeStatementResults(described as never) };
          this.#statements.set(sql, statement);
        }
        const types = statement.types;
        const values = params.map((value, i) => {
          if (value === null || value === undefined) return null;
          const serializer = this.#db.serializers[types[i] ?? 0];
          return serializer ? serializer(value) : String(value);
        });
        messages.push(
          ...(await send(serialize.bind({ statement: statement.name, values }))),
          ...(await send(serialize.describe({ type: 'P' }))),
          ...(await send(serialize.execute({}))),
        );
      } catch (e) {
        // Should DDL have slipped past the check above, the statement is parsed again next time.
        if (e instanceof Error && /cached plan must not change result type/.test(e.message))
          this.#statements.delete(sql);
        if (e instanceof Error) Object.assign(e, { query: sql });
        throw e;
      } finally {
        messages.push(...(await send(serialize.sync())));
      }
      if (!inTransaction) await this.#db.syncToFs();
      const [result] = this.pg.parse.parseResults(messages as never, this.#db.parsers as never, { rowMode: 'object' });
      return result as Results<T>;
    });
  }
}
