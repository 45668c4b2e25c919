/**
 * PostgreSQL: statements sent often are prepared once per connection (named statements of the extended protocol),
 * so the server parses and, once its plan cache allows, plans them once instead of at every execution. Measured on
 * this repository's PostgreSQL (the statement of `GET /api/v1/projects`, 5,000 times on one connection): 140-165 µs
 * of the server's CPU per execution unnamed, 80-105 µs named; per promotion request carried out, 30 → 23 ms
 * (`npm run bench:load:where`). Under `npm run bench:load -- postgres` on a busy 2-core machine, where PostgreSQL,
 * hoist and the load share the CPU, the GETs' p99 fell by a quarter to a half; on a quiet one it did not move.
 *
 * Which statements, and how many:
 * - a statement's text is named once it has been sent `minUses` times (default 2): a one-off (a list with a filter
 *   no one repeats) is sent unnamed as before;
 * - at most `maxNames` texts get a name in a process (default 400, as the embedded database keeps: hoist sends a few
 *   hundred distinct texts), so each connection's prepared statements on the server are bounded; past that, new
 *   texts go unnamed;
 * - only plain SELECT, INSERT, UPDATE, DELETE and WITH statements (not BEGIN, COMMIT, SET, LISTEN...).
 * A name stands for one text in this process (`hoist_<n>`), as pg requires.
 *
 * A statement this process sends that may change what a prepared one answers (DDL: a migration, anything not plain
 * DML or transaction control) changes every name from then on, so that no statement prepared before it is used again
 * (as embedded-statements.ts does for the embedded database).
 *
 * A statement prepared before another replica's migration changed the columns it answers (`SELECT *` after an `ADD
 * COLUMN`) fails on that connection with "cached plan must not change result type" until it is prepared again. Then
 * the connection's names change (a generation suffix: the old statements stay on the server until the connection
 * closes) and, outside a transaction, the statement is sent again at once (it had no effect); inside one, the
 * transaction is aborted by PostgreSQL and the error goes to the caller, as a serialization failure would.
 *
 * `HOIST_PREPARED_STATEMENTS=off` sends every statement unnamed (e.g. behind a pooler in transaction mode that does not
 * keep prepared statements, as PgBouncer before 1.21).
 */
import type pg from 'pg';

export interface PreparedStatementOptions {
  /** Sends of one text before it is named (default 2). */
  minUses?: number;
  /** Texts named at most in this process (default 400). */
  maxNames?: number;
}

const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;
/** Statements that change nothing a prepared statement depends on. */
const HARMLESS =
  /^\s*(select|insert|update|delete|with|savepoint|release|rollback|commit|begin|start|set|show|notify|listen|unlisten)\b/i;
/** Texts counted at most while not yet named; past it the counts start over (a text sent often is soon counted again). */
const MAX_COUNTED = 10_000;

/** Names given to statement texts, shared by the connections of one pool. */
export class StatementNames {
  readonly #minUses: number;
  readonly #maxNames: number;
  readonly #names = new Map<string, string>();
  readonly #uses = new Map<string, number>();
  /** Bumped by every statement that is not HARMLESS: names given before are not used again. */
  #epoch = 0;

  constructor(o: PreparedStatementOptions = {}) {
    this.#minUses = o.minUses ?? 2;
    this.#maxNames = o.maxNames ?? 400;
  }

  /** The name `text` is prepared under, or undefined to send it unnamed (this time). */
  nameOf(text: string): string | undefined {
    const named = this.#names.get(text);
    if (named !== undefined) return this.#epoch === 0 ? named : `${named}e${this.#epoch}`;
    if (!HARMLESS.test(text)) this.#epoch++;
    if (this.#names.size >= this.#maxNames || !PREPARABLE.test(text)) return undefined;
    const uses = (this.#uses.get(text) ?? 0) + 1;
    if (uses < this.#minUses) {
      if (this.#uses.size >= MAX_COUNTED) this.#uses.clear();
      this.#uses.set(text, uses);
      return undefined;
    }
    this.#uses.delete(text);
    const name = `hoist_${this.#names.size + 1}`;
    this.#names.set(text, name);
    return this.#epoch === 0 ? name : `${name}e${this.#epoch}`;
  }

  /** How many texts have a name (tests, metrics). */
  get size(): number {
    return this.#names.size;
  }
}

const STALE_PLAN = 'cached plan must not change result type';

/** Whether `e` says a prepared statement answers columns its table no longer has as it did (see above). */
export const isStalePlan = (e: unknown): boolean =>
  (e as { code?: unknown }).code === '0A000' && String((e as Error).message).includes(STALE_PLAN);

/**
 * A pg Client class (for `new pg.Pool({ Client })`) that sends `query(text, values)` under the names `names` gives.
 * Every other form of `query` (a config object, a Cursor, a text with a callback) goes through as it was.
 */
export function preparingClient(Base: typeof pg.Client, names: StatementNames): typeof pg.Client {
  class PreparingClient extends Base {
    /** Bumped when this connection's prepared statements went stale: its names change. */
    #generation = 0;

    // pg's query() has many overloads; only (text, values) is changed, the rest is passed on untouched.
    override query(...args: unknown[]): never {
      const [text, values, callback] = args;
      const name = typeof text === 'string' && callback === undefined && names.nameOf(text);
      if (!name || !Array.isArray(values)) return (super.query as (...a: unknown[]) => never)(...args);
      const send = (): Promise<pg.QueryResult> =>
        (super.query as (c: pg.QueryConfig) => Promise<pg.QueryResult>)({
          name: this.#generation === 0 ? name : `${name}_${this.#generation}`,
          text,
          values: values as unknown[],
        });
      // 'I': no transaction open, so a statement that failed had no effect and may be sent again.
      const idle = this.getTransactionStatus() === 'I';
      return send().catch((e: unknown) => {
        if (!isStalePlan(e)) throw e;
        this.#generation++;
        if (!idle) throw e;
        return send();
      }) as never;
    }
  }
  return PreparingClient;
}
