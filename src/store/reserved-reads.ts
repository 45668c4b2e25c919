/**
 * Connections kept for reads on PostgreSQL. The API marks its reads (GET and HEAD requests) with `asReader`; every
 * other statement — writes, and the background workers' — may hold at most `others` of the pool's connections at
 * once, so the rest are always there for reads. Measured with `BENCH_TRACE=1 npm run bench:load -- postgres`: a
 * simple GET's time under load was 85 % waiting for a connection, and no GET was answered for 3 s while the 50
 * promotion requests' transactions held all ten; with a larger pool, they held all thirty. Reads may still use any
 * free connection: with only a few of their own, 50 GETs at once waited for each other instead.
 *
 * Only where a statement's connection comes from, and when, changes: the statements, their transactions, locks and
 * conditional updates are the same, on the same database. Waiting for a turn is bounded like waiting for a
 * connection (`timeoutMs`), and fails the same way (src/store/outage.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  PostgresDialect,
  PostgresDriver,
  type DatabaseConnection,
  type Driver,
  type PostgresDialectConfig,
} from 'kysely';

const readers = new AsyncLocalStorage<true>();

/** Runs `fn` (and everything it starts) as a reader: its statements may use the connections kept for reads. */
export function asReader<T>(fn: () => T): T {
  return readers.run(true, fn);
}

/** Whether the code running now was started by `asReader`. */
export function isReader(): boolean {
  return readers.getStore() === true;
}

/**
 * Turns at the pool's connections, first come first served: at most `size` held at once (the pool's size, so the
 * pool itself never makes anyone wait), of which at most `othersMax` by statements other than reads. A waiting
 * statement that is not a read lets the reads behind it go first while the others hold their share.
 */
export class ConnectionTurns {
  #held = 0;
  #othersHeld = 0;
  readonly #waiting: Array<{ reader: boolean; admit: () => void }> = [];

  constructor(
    private readonly size: number,
    private readonly othersMax: number,
    private readonly timeoutMs: number,
  ) {}

  /** Waits for a turn, at most `timeoutMs` (then fails as pg does when no connection comes in time). */
  enter(reader: boolean): Promise<void> {
    // No one waiting could have this turn: after every change, those waiting are all held back (see #admit).
    if (this.#held < this.size && (reader || this.#othersHeld < this.othersMax)) {
      this.#held++;
      if (!reader) this.#othersHeld++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        reader,
        admit: (): void => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        reject(new Error('timeout exceeded when trying to connect (all connections in use)'));
      }, this.timeoutMs);
      this.#waiting.push(waiter);
      this.#admit();
    });
  }

  leave(reader: boolean): void {
    this.#held--;
    if (!reader) this.#othersHeld--;
    this.#admit();
  }

  /** Admits waiters in order while connections are free, passing over those held back by the others' share. */
  #admit(): void {
    for (let i = 0; i < this.#waiting.length && this.#held < this.size;) {
      const waiter = this.#waiting[i]!;
      if (!waiter.reader && this.#othersHeld >= this.othersMax) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      this.#held++;
      if (!waiter.reader) this.#othersHeld++;
      waiter.admit();
    }
  }

  /** Statements waiting for a turn (for metrics). */
  get waiting(): number {
    return this.#waiting.length;
  }
}

class ReservingDriver extends PostgresDriver {
  /** Each connection handed out, and whether to a reader. */
  readonly #readers = new WeakMap<DatabaseConnection, boolean>();

  constructor(
    config: PostgresDialectConfig,
    private readonly turns: ConnectionTurns,
  ) {
    super(config);
  }

  override async acquireConnection(...args: Parameters<PostgresDriver['acquireConnection']>) {
    const reader = isReader();
    await this.turns.enter(reader);
    try {
      const connection = await super.acquireConnection(...args);
      this.#readers.set(connection, reader);
      return connection;
    } catch (e) {
      this.turns.leave(reader);
      throw e;
    }
  }

  override async releaseConnection(connection: Parameters<PostgresDriver['releaseConnection']>[0]): Promise<void> {
    try {
      await super.releaseConnection(connection);
    } finally {
      const reader = this.#readers.get(connection);
      this.#readers.delete(connection);
      if (reader !== undefined) this.turns.leave(reader);
    }
  }
}

/** Kysely's PostgreSQL dialect, its connections handed out in turns (ConnectionTurns). */
export class ReservedReadsDialect extends PostgresDialect {
  constructor(
    private readonly config: PostgresDialectConfig,
    private readonly turns: ConnectionTurns,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new ReservingDriver(this.config, this.turns);
  }
}
