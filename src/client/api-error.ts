/**
 * Turning answers into errors: an error answer of the hoist API (or no answer at all: status 0, code UNREACHABLE)
 * becomes an ApiError (defined with hoist's other errors) with the server's own code, message and details.
 */
import { ApiError } from '../errors.ts';

export { ApiError };

/** The ApiError for an answer that is not 2xx, from hoist's error body when it has one. */
export function apiErrorOf(status: number, body: unknown): ApiError {
  const err = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  return new ApiError(status, err?.code ?? `HTTP_${status}`, err?.message ?? `HTTP ${status}`, err?.details);
}

/** The ApiError for a server that could not be reached (connection refused, DNS, TLS, …). */
export function unreachable(server: string, e: unknown): ApiError {
  const reason = ((e as Error).cause as Error | undefined)?.message ?? (e as Error).message;
  return new ApiError(0, 'UNREACHABLE', `cannot reach the hoist server at ${server}: ${reason}`);
}
