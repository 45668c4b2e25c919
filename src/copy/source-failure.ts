/**
 * The one error a blob transfer ends with when the source registry let it down: it names the registry host, the
 * blob and what happened (closed the connection, sent nothing for the idle time, refused), with the number of
 * attempts, instead of Node's bare `aborted`. It is a NetworkError, so whoever retries whole jobs (the promotion
 * queue) sees it as transient.
 */
import { NetworkError } from '../errors.ts';

/** What a socket-level failure means, in words; undefined when the error says it better itself. */
function whatHappened(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  const message = e instanceof Error ? e.message : '';
  if (code === 'ETIMEDOUT') {
    const ms = /no data for (\d+) ms/.exec(message)?.[1];
    return ms !== undefined ? `sent nothing for ${Number(ms) / 1000} s` : 'timed out';
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED' || message === 'aborted')
    return 'closed the connection';
  if (code === 'ECONNREFUSED') return 'refused the connection';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'could not be reached';
  if (code === 'EAI_AGAIN' || code === 'ENOTFOUND') return 'could not be resolved';
  return undefined;
}

/** The innermost socket-level error: a NetworkError wraps the one from node:http as its cause. */
function rootCause(e: unknown): unknown {
  let current = e;
  for (let depth = 0; depth < 5; depth++) {
    const cause = (current as { cause?: unknown } | undefined)?.cause;
    if (cause === undefined || cause === current) break;
    current = cause;
  }
  return current;
}

export class SourceBlobFailed extends NetworkError {
  constructor(
    readonly host: string,
    readonly digest: string,
    /** Before the body started (the transport retried the GET), or while it streamed. */
    readonly phase: 'before' | 'while',
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`source registry ${host}`, cause);
    const what = whatHappened(rootCause(cause)) ?? whatHappened(cause);
    const detail = what ?? `failed (${cause instanceof Error ? cause.message : String(cause)})`;
    const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
    this.message = `source registry ${host} ${detail} ${phase} sending blob ${digest} (${tries})`;
  }
}
