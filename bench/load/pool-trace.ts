/**
 * `BENCH_TRACE=1 npm run bench:load -- postgres`: where a slow GET waits. Patches `pg`'s Pool in this process (the
 * bench's in-process server uses it) to time every checkout of a connection: how long the caller waited for it
 * (acquire), how long it was held, and its statements' own time; and tags each checkout with the HTTP request it
 * served (an AsyncLocalStorage entered when the server receives the request), so that a GET's time splits into
 * server receipt → first connection asked (event loop, parsing, authentication), waiting for a connection, the
 * statements, and the rest (serialising, writing). Measurement only: nothing of it runs in `hoist serve`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Server } from 'node:http';
import pg from 'pg';
import { ConnectionTurns } from '../../src/store/reserved-reads.ts';

interface RequestTrace {
  method: string;
  url: string;
  /** performance.now() at the server's 'request' event, and when the answer was written in full. */
  received: number;
  finished?: number;
  acquireMs: number;
  queryMs: number;
  checkouts: number;
  /** The first connection asked for, ms after `received`. */
  firstAskMs?: number;
}

interface Checkout {
  kind?: string;
  asked: number;
  acquired: number;
  queryMs: number;
  statements: number;
}

const requests = new AsyncLocalStorage<RequestTrace>();
const traced: RequestTrace[] = [];
const checkouts: Array<{
  kind: string;
  acquired: number;
  released: number;
  acquireMs: number;
  holdMs: number;
  queryMs: number;
  statements: number;
}> = [];
let recordingFrom = 0;
let recording = false;

function kindOf(sql: string): string {
  const s = sql.trim().replace(/\s+/g, ' ');
  if (/^begin/i.test(s)) return 'transaction';
  return s.slice(0, 48);
}

/** Wraps pg's Pool and Client once; only checkouts made while recording (and their requests) are kept. */
export function tracePool(): void {
  traceTurns();
  const proto = pg.Pool.prototype as unknown as {
    connect: (cb?: (err: Error | undefined, client: pg.PoolClient, done: () => void) => void) => unknown;
  };
  const connect = proto.connect;
  const wrap = (client: pg.PoolClient, c: Checkout, request: RequestTrace | undefined): void => {
    const query = client.query;
    const release = client.release;
    client.query = function (this: pg.PoolClient, ...args: unknown[]) {
      const first = args[0] as string | { text?: string };
      c.kind ??= kindOf(typeof first === 'string' ? first : (first.text ?? ''));
      c.statements++;
      const t0 = performance.now();
      const r = (query as (...a: unknown[]) => unknown).apply(this, args);
      if (r instanceof Promise)
        void r.then(
          () => (c.queryMs += performance.now() - t0),
          () => (c.queryMs += performance.now() - t0),
        );
      return r;
    } as typeof client.query;
    client.release = function (this: pg.PoolClient, ...args: unknown[]) {
      client.query = query;
      client.release = release;
      const now = performance.now();
      if (recording) {
        checkouts.push({
          kind: c.kind ?? 'nothing',
          acquired: c.acquired,
          released: now,
          acquireMs: c.acquired - c.asked,
          holdMs: now - c.acquired,
          queryMs: c.queryMs,
          statements: c.statements,
        });
        if (request) {
          request.acquireMs += c.acquired - c.asked;
          request.queryMs += c.queryMs;
          request.checkouts++;
        }
      }
      return (release as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof client.release;
  };
  proto.connect = function (this: pg.Pool, cb) {
    const request = requests.getStore();
    const c: Checkout = { asked: performance.now(), acquired: 0, queryMs: 0, statements: 0 };
    if (request && request.firstAskMs === undefined) request.firstAskMs = c.asked - request.received;
    if (cb)
      return connect.call(this, (err, client, done) => {
        c.acquired = performance.now();
        if (!err) wrap(client, c, request);
        cb(err, client, done);
      });
    return (connect.call(this) as Promise<pg.PoolClient>).then((client) => {
      c.acquired = performance.now();
      wrap(client, c, request);
      return client;
    });
  };
}

/** Also times the wait for a turn at the pool (src/store/reserved-reads.ts), which comes before pg's. */
function traceTurns(): void {
  const enter = ConnectionTurns.prototype.enter;
  ConnectionTurns.prototype.enter = function (this: ConnectionTurns, reader: boolean) {
    const request = requests.getStore();
    const asked = performance.now();
    if (request && request.firstAskMs === undefined) request.firstAskMs = asked - request.received;
    const turn = enter.call(this, reader);
    if (request) void turn.then(() => recording && (request.acquireMs += performance.now() - asked));
    return turn;
  };
}

/** Tags every request the server receives from now on. */
export function traceRequests(server: Server): void {
  server.prependListener('request', (req, res) => {
    const t: RequestTrace = {
      method: req.method ?? '',
      url: req.url ?? '',
      received: performance.now(),
      acquireMs: 0,
      queryMs: 0,
      checkouts: 0,
    };
    requests.enterWith(t);
    res.once('finish', () => {
      t.finished = performance.now();
      if (recording) traced.push(t);
    });
  });
}

export function startRecording(): void {
  recording = true;
  recordingFrom = performance.now();
}

const pct = (xs: number[], p: number): number =>
  Math.round(([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0) * 10) /
  10;
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** What the recorded load looked like, for the report: GETs split by where their time went; checkouts by kind. */
export function summary(): object {
  recording = false;
  const gets = traced.filter((t) => t.method === 'GET' && t.finished !== undefined);
  const total = gets.map((t) => t.finished! - t.received);
  const slowest = [...gets].sort((a, b) => b.finished! - b.received - (a.finished! - a.received));
  const slow = slowest.slice(0, Math.max(1, Math.floor(gets.length / 100)));
  const split = (ts: RequestTrace[]): object => {
    const server = sum(ts.map((t) => t.finished! - t.received));
    const acquire = sum(ts.map((t) => t.acquireMs));
    const query = sum(ts.map((t) => t.queryMs));
    const beforeAsk = sum(ts.map((t) => t.firstAskMs ?? 0));
    return {
      requests: ts.length,
      serverMsMean: Math.round((server / ts.length) * 10) / 10,
      share: {
        beforeFirstConnection: Math.round((beforeAsk / server) * 100) / 100,
        waitingForConnection: Math.round((acquire / server) * 100) / 100,
        statements: Math.round((query / server) * 100) / 100,
        rest: Math.round(((server - acquire - query - beforeAsk) / server) * 100) / 100,
      },
      checkoutsPerRequest: Math.round((sum(ts.map((t) => t.checkouts)) / ts.length) * 100) / 100,
    };
  };
  const kinds = new Map<string, typeof checkouts>();
  for (const c of checkouts) kinds.set(c.kind, [...(kinds.get(c.kind) ?? []), c]);
  // Per 500 ms of the load: the GETs that ended in it (count, mean and max server time, mean wait for a connection),
  // and how many connections transactions and the GETs held on average.
  const BUCKET = 500;
  const end = Math.max(...gets.map((t) => t.finished!));
  const timeline = [];
  for (let from = recordingFrom; from < end; from += BUCKET) {
    const to = from + BUCKET;
    const inBucket = gets.filter((t) => t.finished! >= from && t.finished! < to);
    const held = (kind: (k: string) => boolean): number =>
      Math.round(
        (sum(
          checkouts
            .filter((c) => kind(c.kind))
            .map((c) => Math.max(0, Math.min(to, c.released) - Math.max(from, c.acquired))),
        ) /
          BUCKET) *
          10,
      ) / 10;
    timeline.push({
      at: Math.round(from - recordingFrom),
      gets: inBucket.length,
      meanMs: Math.round(sum(inBucket.map((t) => t.finished! - t.received)) / Math.max(1, inBucket.length)),
      maxMs: Math.round(Math.max(0, ...inBucket.map((t) => t.finished! - t.received))),
      acquireMeanMs: Math.round(sum(inBucket.map((t) => t.acquireMs)) / Math.max(1, inBucket.length)),
      heldByTransactions: held((k) => k === 'transaction'),
      heldByGets: held((k) => k.includes('"projects"')),
      heldByOthers: held((k) => k !== 'transaction' && !k.includes('"projects"')),
    });
  }
  /** p50 and p99 of `xs`, named `${name}P50ms` and `${name}P99ms`. */
  const p50p99 = (name: string, xs: number[]): Record<string, number> => ({
    [`${name}P50ms`]: pct(xs, 50),
    [`${name}P99ms`]: pct(xs, 99),
  });
  return {
    timeline,
    gets: {
      ...p50p99('server', total),
      ...p50p99(
        'acquire',
        gets.map((t) => t.acquireMs),
      ),
      queryP99ms: pct(
        gets.map((t) => t.queryMs),
        99,
      ),
      all: split(gets),
      slowestPercent: split(slow),
    },
    checkouts: [...kinds.entries()]
      .map(([kind, cs]) => ({
        kind,
        count: cs.length,
        ...p50p99(
          'acquire',
          cs.map((c) => c.acquireMs),
        ),
        ...p50p99(
          'hold',
          cs.map((c) => c.holdMs),
        ),
        heldSeconds: Math.round(sum(cs.map((c) => c.holdMs))) / 1000,
        statementsMean: Math.round((sum(cs.map((c) => c.statements)) / cs.length) * 10) / 10,
      }))
      .sort((a, b) => (b.heldSeconds as number) - (a.heldSeconds as number))
      .slice(0, 15),
  };
}
