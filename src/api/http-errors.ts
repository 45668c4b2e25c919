/**
 * The one place where errors become HTTP answers: `{"error": {"code", "message", "details"}}` with a status chosen by
 * the error's type. Validation failures name the field.
 */
import type { FastifyError } from 'fastify';
import {
  Conflict,
  DatabaseUnavailable,
  DigestMismatch,
  Forbidden,
  HoistError,
  InvalidInput,
  NetworkError,
  NotFound,
  RegistryError,
  TooManyRequests,
  Unauthenticated,
} from '../errors.ts';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function httpError(e: unknown): { status: number; body: ErrorBody; headers?: Record<string, string> } {
  const body = (code: string, message: string, details?: unknown): ErrorBody => ({
    error: details === undefined ? { code, message } : { code, message, details },
  });
  if (e instanceof InvalidInput)
    return { status: 400, body: body(e.code, e.message, e.where ? { field: e.where } : undefined) };
  if (e instanceof Unauthenticated) return { status: 401, body: body(e.code, e.message) };
  if (e instanceof Forbidden) return { status: 403, body: body(e.code, e.message) };
  if (e instanceof NotFound) return { status: 404, body: body(e.code, e.message) };
  if (e instanceof Conflict) return { status: 409, body: body(e.code, e.message) };
  if (e instanceof TooManyRequests)
    return { status: 429, body: body(e.code, e.message), headers: { 'retry-after': String(e.retryAfterSeconds) } };
  if (e instanceof RegistryError)
    return { status: 502, body: body(e.code, e.message, { registryCode: e.registryCode, status: e.status }) };
  if (e instanceof DigestMismatch || e instanceof NetworkError) return { status: 502, body: body(e.code, e.message) };
  if (e instanceof DatabaseUnavailable) return { status: 503, body: body(e.code, e.message) };
  const fe = e as FastifyError;
  if (fe.validation) {
    const first = fe.validation[0];
    const field = first
      ? `${fe.validationContext ?? 'body'}${first.instancePath.replaceAll('/', '.')}`
      : (fe.validationContext ?? 'body');
    const extra =
      first?.params && 'additionalProperty' in first.params ? `.${String(first.params.additionalProperty)}` : '';
    const message =
      first?.keyword === 'additionalProperties'
        ? `unknown field ${field}${extra}`
        : `${field}: ${first?.message ?? fe.message}`;
    return { status: 400, body: body('VALIDATION_FAILED', message, { field: `${field}${extra}` }) };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: body(fe.code ?? 'BAD_REQUEST', fe.message) };
  }
  if (e instanceof HoistError) return { status: 500, body: body(e.code, e.message) };
  return {
    status: 500,
    body: body('INTERNAL', 'internal error; the server log has the details (look for this request id)'),
  };
}
