/**
 * What is worth trying again, and how long to wait first: the one classification of transient failures and the one
 * capped exponential backoff with jitter. The transport retries single HTTP requests with them; the leased queue
 * retries whole jobs (a promotion, a webhook delivery, a push event) with them, so the two never disagree about
 * whether a 503 or a reset connection is worth another go.
 */
import { DatabaseUnavailable, NetworkError, RegistryError } from '../errors.ts';

/** HTTP statuses that say "not now" rather than "no": time-outs, rate limits, server errors. */
export const TRANSIENT_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Socket and resolver errors that a later try can get past. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** PostgreSQL SQLSTATE classes of a server that went away or is overloaded (08 connection, 57P admin shutdown, 53 resources). */
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-3]|40001|40P01)/;

export function isTransientStatus(status: number): boolean {
  return TRANSIENT_STATUS.has(status);
}

/** A socket-level error (with an errno code) that is worth retrying. */
export function isRetriableNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/**
 * Whether a failed job is worth another attempt: the network failed, a registry answered 408/429/5xx, the
 * database was unreachable or the transaction lost a serialization race, or a request timed out. Everything else
 * (a 4xx, a digest mismatch, a policy refusal, a bug) fails the job at once: trying again would do the same.
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof NetworkError || e instanceof DatabaseUnavailable) return true;
  if (e instanceof RegistryError) return isTransientStatus(e.status);
  if (e instanceof Error && e.name === 'TimeoutError') return true;
  if (isRetriableNetworkError(e)) return true;
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && TRANSIENT_SQLSTATE.test(code)) return true;
  const cause = (e as { cause?: unknown } | undefined)?.cause;
  return cause !== undefined && cause !== e && isTransient(cause);
}

export interface Backoff {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Milliseconds to wait before retry number `retry` (0 for the first retry): base × 2^retry, capped, with "equal
 * jitter" (a random half of it on top of a fixed half), so that many failed jobs do not all come back at once.
 */
export function backoffDelay(retry: number, b: Backoff, random: () => number = Math.random): number {
  const exp = Math.min(b.maxDelayMs, b.baseDelayMs * 2 ** Math.max(0, retry));
  return Math.round(exp / 2 + random() * (exp / 2));
}
