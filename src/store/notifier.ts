/**
 * Wake-ups between the parts of hoist, and between replicas: a publish on a channel reaches every subscriber of that
 * channel. Workers sleep until told that there is work (a promotion queued, an event received) instead of asking the
 * database again and again. With the embedded database there is one process, so an in-process emitter does it; with
 * PostgreSQL, `NOTIFY` reaches every replica's `LISTEN` on a dedicated connection that reconnects when it drops.
 * Delivery is best effort (a notification sent while a listener reconnects is lost), so workers still look now and
 * then; a notification only makes them look sooner.
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';

export interface Notifier {
  publish(channel: string, payload: string): Promise<void>;
  /** Calls `fn` with each payload published on `channel` (by any replica); answers how to stop. */
  subscribe(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Whether a notification published now will be heard: false while the PostgreSQL listener is reconnecting. What
   * keeps answers that a notification invalidates (src/api/identity-cache.ts) must not keep them meanwhile.
   */
  listening(): boolean;
  close(): Promise<void>;
}

/** The embedded database's own LISTEN (PGlite's `listen`): answers how to stop. */
export type DatabaseListen = (channel: string, fn: (payload: string) => void) => Promise<() => Promise<void>>;

/**
 * One process: an emitter. With `listen`, subscribers also hear the embedded database's own `NOTIFY`s (sent by
 * triggers, delivered on commit, as PostgreSQL's are).
 */
export function inProcessNotifier(listen?: DatabaseListen): Notifier {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    publish: async (channel, payload) => {
      // Subscribers run after the publisher's own work, as they would for a notification from the database.
      queueMicrotask(() => emitter.emit(channel, payload));
    },
    subscribe: async (channel, fn) => {
      emitter.on(channel, fn);
      const unlisten = await listen?.(channel, fn);
      return async () => {
        emitter.off(channel, fn);
        await unlisten?.().catch(() => undefined);
      };
    },
    listening: () => true,
    close: async () => {
      emitter.removeAllListeners();
    },
  };
}

/** PostgreSQL channel names are identifiers (at most 63 bytes); quote them as such. */
const ident = (channel: string): string => `"${channel.replaceAll('"', '""')}"`;

export interface PostgresNotifierOptions {
  /** Publishes go through the pool (`pg_notify`). */
  pool: pg.Pool;
  /** A new dedicated client for LISTEN. */
  connect: () => pg.Client;
  /** First reconnect after this long, doubling to 30 s. */
  reconnectMs?: number;
  onError?: (err: Error) => void;
}

/** PostgreSQL: `pg_notify` through the pool, `LISTEN` on one dedicated connection, reconnecting when it drops. */
export function postgresNotifier(o: PostgresNotifierOptions): Notifier {
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const channels = new Map<string, number>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const c = o.connect();
      c.on('notification', (m) => local.emit(m.channel, m.payload ?? ''));
      c.on('error', (err) => {
        o.onError?.(err);
        drop(c);
      });
      c.on('end', () => drop(c));
      await c.connect();
      for (const channel of channels.keys()) await c.query(`LISTEN ${ident(channel)}`);
      failures = 0;
      client = c;
      return c;
    })().finally(() => (connecting = undefined));
    return connecting;
  };

  const drop = (c: pg.Client): void => {
    if (client === c) client = undefined;
    void c.end().catch(() => undefined);
    scheduleReconnect();
  };

  const scheduleReconnect = (): void => {
    if (closed || channels.size === 0 || retryTimer) return;
    const wait = Math.min(30_000, (o.reconnectMs ?? 500) * 2 ** failures++);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      // Whatever was published while we were away is lost: wake every subscriber so it looks for itself.
      connect().then(
        () => {
          for (const channel of channels.keys()) local.emit(channel, '');
        },
        (err: Error) => {
          o.onError?.(err);
          scheduleReconnect();
        },
      );
    }, wait);
    retryTimer.unref();
  };

  return {
    publish: async (channel, payload) => {
      await o.pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    subscribe: async (channel, fn) => {
      local.on(channel, fn);
      const count = channels.get(channel) ?? 0;
      channels.set(channel, count + 1);
      if (count === 0) {
        const c = client ?? (await connect());
        if (!channels.has(channel)) return async () => {};
        if (client === c) await c.query(`LISTEN ${ident(channel)}`);
      }
      return async () => {
        local.off(channel, fn);
        const left = (channels.get(channel) ?? 1) - 1;
        if (left > 0) return void channels.set(channel, left);
        channels.delete(channel);
        await client?.query(`UNLISTEN ${ident(channel)}`).catch(() => undefined);
      };
    },
    listening: () => !closed && client !== undefined,
    close: async () => {
      closed = true;
      clearTimeout(retryTimer);
      local.removeAllListeners();
      channels.clear();
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
