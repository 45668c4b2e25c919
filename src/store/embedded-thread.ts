/**
 * The embedded database (PGlite) on a worker thread of its own, behind the small part of PGlite's interface that
 * Kysely's PGlite dialect and the notifier use (query, transaction, listen, close).
 *
 * Why: PGlite is PostgreSQL compiled to WebAssembly and runs synchronously where it is called. On the server's
 * thread, its work held the event loop: under 2,000 GETs and 50 promotions at once (`npm run bench:load`), three
 * quarters of the server thread's time was PGlite's (WebAssembly, its protocol parsing and string copies), and a
 * simple GET waited seconds behind it. On its own thread it uses the second core, and the server's thread only
 * parses HTTP, checks and serializes. PGlite's own locks still order queries and transactions: every call is carried
 * out by the real PGlite instance in the worker, transactions included (a plain query waits while one is open, as
 * in-thread). The WebAssembly is compiled once per process and shared with every worker.
 *
 * The worker runs this same module (a file of the source tree or a chunk of the bundle): `serveEmbedded` starts
 * when it is loaded on a worker thread with hoist's marker in its data.
 */
import { readFile } from 'node:fs/promises';
import { isMainThread, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { PreparedStatements } from './embedded-statements.ts';

const MARKER = 'hoist-embedded-database';
/** How long a transaction lets waiting plain statements go first, at most. */
const BEGIN_DEFER_MS = 50;

/** A compiled WebAssembly module (the project's TypeScript has no DOM library to name `WasmModule`). */
type WasmModule = object;
const { WebAssembly: wasm } = globalThis as unknown as {
  WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> };
};

export interface EmbeddedOptions {
  dataDir?: string;
  loadDataDir?: Blob;
  /** Start parameters after PGlite's defaults (`-c name=value` settings). */
  settings: string[];
}

interface Init {
  marker: typeof MARKER;
  dataDir?: string;
  loadDataDir?: ArrayBuffer;
  settings: string[];
  pgliteWasmModule: WasmModule;
}

type Call =
  | { op: 'query'; tx?: number; sql: string; params?: unknown[] }
  | { op: 'begin'; tx: number }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'listen'; channel: string }
  | { op: 'unlisten'; channel: string }
  | { op: 'close' };

interface SerializedError {
  message: string;
  name: string;
  stack?: string;
  fields: Record<string, string | number | boolean | null>;
}
type Reply =
  | { id: number; ok: true; value?: unknown }
  | { id: number; ok: false; error: SerializedError }
  | { notify: string; payload: string };

export interface QueryResult<T> {
  rows: T[];
  affectedRows?: number;
  // No `fields`: nothing reads them, and copying them to the server's thread cost three times a one-row result of 45
  // columns (postMessage: ~140 µs with them, ~40 µs without; the worker spent 12% of its time in postMessage).
}

/** Error fields a caller reads (`code`, `detail`, `constraint`, …) cross the thread; values that are not primitive stay. */
function serializeError(e: unknown): SerializedError {
  const err = e instanceof Error ? e : new Error(String(e));
  const fields: SerializedError['fields'] = {};
  for (const [key, value] of Object.entries(err))
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value))
      fields[key] = value as string | number | boolean | null;
  return { message: err.message, name: err.name, ...(err.stack ? { stack: err.stack } : {}), fields };
}

function deserializeError(s: SerializedError): Error {
  const err = Object.assign(new Error(s.message), s.fields);
  err.name = s.name;
  if (s.stack) err.stack = s.stack;
  return err;
}

/** The worker's side: one PGlite, every call carried out on it. */
async function serveEmbedded(port: MessagePort, init: Init): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  type Tx = Parameters<Parameters<InstanceType<typeof PGlite>['transaction']>[0]>[0];
  let pglite: InstanceType<typeof PGlite>;
  try {
    pglite = await PGlite.create(init.dataDir, {
      startParams: [...PGlite.defaultStartParams, ...init.settings],
      // initdb's (small) module is compiled by PGlite itself, for a new database only.
      pgliteWasmModule: init.pgliteWasmModule,
      ...(init.loadDataDir ? { loadDataDir: new Blob([init.loadDataDir]) } : {}),
    });
  } catch (e) {
    port.postMessage({ id: 0, ok: false, error: serializeError(e) } satisfies Reply);
    return;
  }
  const statements =
    process.env.HOIST_EMBEDDED_PREPARE === 'off'
      ? undefined
      : new PreparedStatements(pglite, await import('@electric-sql/pglite'));
  const open = new Map<number, { tx: Tx; end: (commit: boolean) => void; done: Promise<unknown> }>();
  // Reads first: a plain statement waiting (behind the open transaction) goes before a transaction not yet begun, so
  // a simple GET waits for one promotion's transaction at most, not for every one queued before it. A transaction
  // waits at most BEGIN_DEFER_MS for them, so a stream of reads cannot hold writes off.
  let lastTransaction: Promise<void> = Promise.resolve();
  let plainWaiting = 0;
  let drained: Array<() => void> = [];
  const readsDone = (): Promise<void> =>
    plainWaiting === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, BEGIN_DEFER_MS);
          drained.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
  const listeners = new Map<string, () => Promise<void>>();
  class RolledBack extends Error {}

  const carryOut = async (call: Call): Promise<unknown> => {
    switch (call.op) {
      case 'query': {
        const on = call.tx === undefined ? pglite : open.get(call.tx)?.tx;
        if (on === undefined) throw new Error(`no open transaction ${call.tx}`);
        const run = () => on.query(call.sql, call.params, { rowMode: 'object' });
        if (call.tx !== undefined) {
          const r = statements ? await statements.query(call.sql, call.params ?? [], true, run) : await run();
          return { rows: r.rows, affectedRows: r.affectedRows };
        }
        plainWaiting++;
        try {
          const r = statements ? await statements.query(call.sql, call.params ?? [], false, run) : await run();
          return { rows: r.rows, affectedRows: r.affectedRows };
        } finally {
          if (--plainWaiting === 0) {
            const waiting = drained;
            drained = [];
            for (const resume of waiting) resume();
          }
        }
      }
      case 'begin': {
        // Transactions begin one after the other here (not in PGlite's queue), each once the previous one has ended
        // and the reads that waited for it have run.
        const previous = lastTransaction;
        let settle!: () => void;
        lastTransaction = new Promise<void>((resolve) => (settle = resolve));
        await previous;
        await readsDone().catch(() => undefined);
        let begun!: () => void;
        const started = new Promise<void>((resolve) => (begun = resolve));
        const done = pglite.transaction(
          (tx) =>
            new Promise<void>((resolve, reject) => {
              open.set(call.tx, {
                tx,
                end: (commit) => (commit ? resolve() : reject(new RolledBack())),
                done,
              });
              begun();
            }),
        );
        done.then(settle, settle);
        // A transaction that cannot begin rejects `done` before `started` resolves.
        await Promise.race([started, done]);
        return undefined;
      }
      case 'end': {
        const t = open.get(call.tx);
        if (t === undefined) throw new Error(`no open transaction ${call.tx}`);
        open.delete(call.tx);
        t.end(call.commit);
        try {
          await t.done;
        } catch (e) {
          if (!(e instanceof RolledBack)) throw e;
        }
        return undefined;
      }
      case 'listen': {
        if (!listeners.has(call.channel))
          listeners.set(
            call.channel,
            await pglite.listen(call.channel, (payload) =>
              port.postMessage({ notify: call.channel, payload } satisfies Reply),
            ),
          );
        return undefined;
      }
      case 'unlisten': {
        await listeners.get(call.channel)?.();
        listeners.delete(call.channel);
        return undefined;
      }
      case 'close':
        if (!pglite.closed) await pglite.close();
        return undefined;
    }
  };
  port.on('message', (m: { id: number; call: Call }) => {
    carryOut(m.call).then(
      (value) => port.postMessage({ id: m.id, ok: true, value } satisfies Reply),
      (e: unknown) => port.postMessage({ id: m.id, ok: false, error: serializeError(e) } satisfies Reply),
    );
  });
  port.postMessage({ id: 0, ok: true } satisfies Reply);
}

if (!isMainThread && parentPort && (workerData as Init | undefined)?.marker === MARKER)
  void serveEmbedded(parentPort, workerData as Init);

let compiled: Promise<WasmModule> | undefined;

/** PGlite's WebAssembly, compiled once per process (the file is next to its module). */
function pgliteWasm(): Promise<WasmModule> {
  compiled ??= (async () =>
    wasm.compile(await readFile(new URL('pglite.wasm', import.meta.resolve('@electric-sql/pglite')))))();
  return compiled;
}

/** The server's side: PGlite's interface, each call sent to the worker. */
export class EmbeddedThread {
  closed = false;
  readonly ready = true;
  readonly waitReady = Promise.resolve();
  #worker: Worker;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  #nextTx = 1;
  #listeners = new Map<string, Set<(payload: string) => void>>();

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (m: Reply) => {
      if ('notify' in m) {
        for (const fn of this.#listeners.get(m.notify) ?? []) fn(m.payload);
        return;
      }
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#settled(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(deserializeError(m.error));
    });
    const fail = (why: Error): void => {
      this.closed = true;
      for (const [id, p] of this.#pending) {
        this.#settled(id);
        p.reject(why);
      }
    };
    worker.on('error', (e) => fail(new Error(`the embedded database's thread failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => fail(new Error(`the embedded database's thread ended (exit code ${code})`)));
    // An idle database keeps no process alive (as PGlite in-thread would not); one with calls in flight does.
    worker.unref();
  }

  static async open(o: EmbeddedOptions): Promise<EmbeddedThread> {
    const pgliteWasmModule = await pgliteWasm();
    const loadDataDir = o.loadDataDir ? await o.loadDataDir.arrayBuffer() : undefined;
    const init: Init = {
      marker: MARKER,
      settings: o.settings,
      pgliteWasmModule,
      ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
      ...(loadDataDir ? { loadDataDir } : {}),
    };
    const worker = new Worker(new URL(import.meta.url), {
      workerData: init,
      // The thread's JavaScript only carries messages and PGlite's protocol parsing: short-lived objects. V8's
      // default young generation (up to 3 × 16 MB) stayed resident in an idle server; 6 MB measured ~25 MB less
      // resident memory in `npm run bench:idle` (290 → 265 MB), the database's work being WebAssembly.
      resourceLimits: { maxYoungGenerationSizeMb: 6 },
      transferList: loadDataDir ? [loadDataDir] : [],
    });
    const thread = new EmbeddedThread(worker);
    worker.ref();
    try {
      // The worker answers id 0 once its PGlite is open (or could not be).
      await new Promise<void>((resolve, reject) => thread.#pending.set(0, { resolve: () => resolve(), reject }));
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    return thread;
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
  }

  #call<T>(call: Call): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the embedded database is closed'));
    const id = this.#next++;
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ id, call });
    });
  }

  query<T>(sql: string, params?: unknown[], options?: { rowMode?: 'object' | 'array' }): Promise<QueryResult<T>> {
    if (options?.rowMode === 'array') throw new Error('the embedded database answers rows as objects only');
    return this.#call({ op: 'query', sql, ...(params ? { params } : {}) });
  }

  async transaction<T>(
    callback: (tx: { query: EmbeddedThread['query']; rollback(): Promise<void> }) => Promise<T>,
  ): Promise<T> {
    const tx = await this.begin();
    let ended = false;
    const end = async (commit: boolean): Promise<void> => {
      if (ended) return;
      ended = true;
      await this.end(tx, commit);
    };
    try {
      const result = await callback({
        query: (sql, params) => this.queryIn(tx, sql, params),
        rollback: () => end(false),
      });
      await end(true);
      return result;
    } catch (e) {
      await end(false).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Opens a transaction and answers its number, for a driver that sends its statements one by one (embedded-dialect.ts).
   * The database is the transaction's until `end`: other calls wait in the worker meanwhile.
   */
  async begin(): Promise<number> {
    const tx = this.#nextTx++;
    await this.#call({ op: 'begin', tx });
    return tx;
  }

  /** A statement of the open transaction `tx`. */
  queryIn<T>(tx: number, sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    return this.#call({ op: 'query', tx, sql, ...(params ? { params } : {}) });
  }

  /** Commits or rolls back the open transaction `tx`. */
  async end(tx: number, commit: boolean): Promise<void> {
    await this.#call({ op: 'end', tx, commit });
  }

  async listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.#listeners.get(channel);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(channel, set);
      await this.#call({ op: 'listen', channel });
    }
    set.add(fn);
    return async () => {
      set.delete(fn);
      if (set.size > 0 || this.#listeners.get(channel) !== set) return;
      this.#listeners.delete(channel);
      await this.#call({ op: 'unlisten', channel });
    };
  }

  /** Calls sent and not answered yet (for the pool metric). */
  get waiting(): number {
    return this.#pending.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.#call({ op: 'close' });
    } finally {
      this.closed = true;
      await this.#worker.terminate();
    }
  }
}
