/**
 * A TCP proxy that makes a loopback registry look far away (this kernel has no netem). Every chunk of bytes it
 * forwards, either way, is held for `oneWayMs` and then delivered in order, so 25 ms each way is a 50 ms round trip;
 * a new connection's first bytes wait one more round trip, as a TCP handshake would make them. It is bounded like a
 * real path: at most `windowBytes` in flight per direction of a connection (past that it stops reading and the sender
 * feels backpressure, as from a TCP window: per-connection throughput is at most windowBytes per one-way delay) and
 * at most `maxConnections` connections. It listens on loopback only and connects only to the one target it was given.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface LatencyProxyOptions {
  /** Delay added to every chunk in each direction; the round trip is twice this. */
  oneWayMs: number;
  /** Bytes in flight per direction of one connection. Default 2 MiB (80 MiB/s per connection at 25 ms). */
  windowBytes?: number;
  /** Connections at once; more are refused. Default 256. */
  maxConnections?: number;
}

export interface LatencyProxy {
  host: string;
  url: string;
  /** Connections accepted so far. */
  accepted(): number;
  stop(): Promise<void>;
}

/**
 * Forwards `from` to `to`, each chunk no earlier than `oneWayMs` after it arrived (and not before `notBefore`), in
 * order. Reading stops while `windowBytes` are held or `to` has not drained.
 */
function delayedPipe(from: Socket, to: Socket, oneWayMs: number, windowBytes: number, notBefore: number): void {
  const queue: Array<{ at: number; data: Buffer }> = [];
  let head = 0;
  let held = 0;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  let waitingForDrain = false;

  const schedule = (): void => {
    const next = queue[head];
    if (timer !== undefined || waitingForDrain || next === undefined) return;
    timer = setTimeout(pump, Math.max(0, next.at - performance.now()));
  };
  const pump = (): void => {
    timer = undefined;
    const now = performance.now();
    for (let next = queue[head]; next !== undefined && next.at <= now; next = queue[head]) {
      queue[head++] = undefined as never;
      held -= next.data.length;
      if (!to.write(next.data)) {
        waitingForDrain = true;
        to.once('drain', () => {
          waitingForDrain = false;
          pump();
        });
        break;
      }
    }
    if (head > 1024) {
      queue.splice(0, head);
      head = 0;
    }
    if (held < windowBytes && from.isPaused() && !from.destroyed) from.resume();
    if (head < queue.length) schedule();
    else if (ended && !waitingForDrain) to.end();
  };

  from.on('data', (data: Buffer) => {
    queue.push({ at: Math.max(performance.now() + oneWayMs, notBefore), data });
    held += data.length;
    if (held >= windowBytes) from.pause();
    schedule();
  });
  from.on('end', () => {
    ended = true;
    if (head >= queue.length && !waitingForDrain) to.end();
  });
  from.on('close', () => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

export async function startLatencyProxy(target: string, o: LatencyProxyOptions): Promise<LatencyProxy> {
  const upstream = new URL(target);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(upstream.hostname))
    throw new Error(`the latency proxy forwards to loopback only, not ${upstream.hostname}`);
  const windowBytes = o.windowBytes ?? 2 << 20;
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    const acceptedAt = performance.now();
    const server = connect({ host: upstream.hostname, port: Number(upstream.port), allowHalfOpen: true });
    for (const s of [client, server]) {
      sockets.add(s);
      s.setNoDelay(true);
      // A reset ends both sides; an orderly end travels through delayedPipe, after the bytes before it.
      s.on('error', () => {
        client.destroy();
        server.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    // The client's first bytes arrive after its handshake (one round trip) and their own one-way trip.
    delayedPipe(client, server, o.oneWayMs, windowBytes, acceptedAt + 3 * o.oneWayMs);
    delayedPipe(server, client, o.oneWayMs, windowBytes, 0);
  });
  server.maxConnections = o.maxConnections ?? 256;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the latency proxy has no port');
  const host = `127.0.0.1:${address.port}`;
  return {
    host,
    url: `http://${host}`,
    accepted: () => accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
