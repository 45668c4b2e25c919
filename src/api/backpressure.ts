/**
 * Backpressure: past a limit, a request is refused at once (503 with Retry-After, in the documented error shape)
 * instead of joining a queue that makes every request slow. Two measures, each off when its limit is 0:
 *
 * - requests in flight (received, not yet answered): the queue in front of the database and the event loop;
 * - the event loop's delay: how late a timer that should fire every SAMPLE_MS fired, the worst of its last second.
 *
 * The check is the first thing a request meets, before its credential is looked up (that costs a query). Health
 * (`/healthz`, `/readyz`) and metrics are always answered, and never counted. An event stream is refused when over
 * the limit but is not counted while it stays open (it has its own limit per user).
 *
 * Why our own few lines rather than @fastify/under-pressure: the in-flight count is what protects the database
 * queue, which that plugin does not measure, and one timer is all the event-loop measure needs.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Overloaded } from '../errors.ts';

export interface BackpressureOptions {
  /** Refuse new requests while this many are in flight (0: no limit). */
  maxInFlight?: number;
  /** Refuse new requests while the event loop is this many milliseconds late (0: no limit). */
  maxEventLoopDelayMs?: number;
  /** What Retry-After says, in seconds. */
  retryAfterSeconds?: number;
}

/**
 * The event-loop limit is off unless set: a server that has just built its routes, or shares its process with
 * others (the tests), sees one long delay that says nothing about load, and would refuse the next requests for it.
 */
export const BACKPRESSURE_DEFAULTS = { maxInFlight: 512, maxEventLoopDelayMs: 0, retryAfterSeconds: 2 } as const;

const SAMPLE_MS = 100;
/** Samples kept: the delay looked at covers the last second. */
const WINDOW = 10;
const ALWAYS_ANSWERED = new Set(['/healthz', '/readyz', '/metrics']);
const STREAM = '/api/v1/events/stream';

export interface Backpressure {
  onRequest(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Requests in flight and the event loop's last measured delay (ms), for metrics and tests. */
  state(): { inFlight: number; eventLoopDelayMs: number };
  close(): void;
}

export function backpressure(o: BackpressureOptions = {}): Backpressure {
  const maxInFlight = o.maxInFlight ?? BACKPRESSURE_DEFAULTS.maxInFlight;
  const maxDelay = o.maxEventLoopDelayMs ?? BACKPRESSURE_DEFAULTS.maxEventLoopDelayMs;
  const retryAfter = o.retryAfterSeconds ?? BACKPRESSURE_DEFAULTS.retryAfterSeconds;
  let inFlight = 0;
  // The delay is the worst of the last WINDOW samples: one long stall is still seen by the requests that queued behind
  // it (on a busy machine they may be parsed a few ticks later), and forgotten once the loop has kept time for a while.
  const samples: number[] = [];
  let delay = 0;
  let expected = performance.now() + SAMPLE_MS;
  const timer =
    maxDelay > 0
      ? setInterval(() => {
          const now = performance.now();
          samples.push(Math.max(0, now - expected));
          if (samples.length > WINDOW) samples.shift();
          delay = Math.max(...samples);
          expected = now + SAMPLE_MS;
        }, SAMPLE_MS).unref()
      : undefined;

  return {
    async onRequest(req, reply) {
      const path = req.url.split('?')[0] ?? req.url;
      if (ALWAYS_ANSWERED.has(path)) return;
      if (maxInFlight > 0 && inFlight >= maxInFlight)
        throw new Overloaded(`the server is busy (${inFlight} requests in progress); try again shortly`, retryAfter);
      if (maxDelay > 0 && delay >= maxDelay)
        throw new Overloaded(
          `the server is busy (its event loop is ${Math.round(delay)} ms behind); try again shortly`,
          retryAfter,
        );
      if (path === STREAM) return;
      inFlight++;
      // 'close' comes once, whether the answer was sent in full or the client went away first.
      reply.raw.once('close', () => inFlight--);
    },
    state: () => ({ inFlight, eventLoopDelayMs: delay }),
    close: () => clearInterval(timer),
  };
}
