/**
 * The one place where errors become HTTP answers: `{"error": {"code", "message", "details"}}` with a status chosen by
 * the error's type. Validation failures name the field.
 */
import type { FastifyError } from 'fastify';
import type { Socket } from 'node:net';
import { isDatabaseOutage } from '../store/outage.ts';
import {
  Conflict,
  DatabaseUnavailable,
  DigestMismatch,
  Forbidden,
  HoistError,
  InvalidInput,
  NetworkError,
  NotFound,
  Overloaded,
  ProtocolError,
  RegistryError,
  TooManyRequests,
  Unauthenticated,
} from '../errors.ts';

/** hoist's codes for what the HTTP framework refuses before a route runs (never Fastify's own `FST_…` codes). */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  411: 'LENGTH_REQUIRED',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
};

/** The body-parsing refusals, said in hoist's words. */
function frameworkError(fe: FastifyError): { status: number; code: string; message: string } | undefined {
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'INVALID_JSON', message: 'the body is not valid JSON (the content type says JSON)' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'INVALID_JSON', message: 'the body is empty (the content type says JSON)' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'BODY_TOO_LARGE', message: 'the body is over the size limit' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'BAD_REQUEST', message: 'the Content-Length does not match the body' };
    default:
      return undefined;
  }
}

/** How long a client should wait before trying again while the database is away. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

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
  if (e instanceof Forbidden) return { status: 403, body: body(e.code, e.message, { roleHelps: e.roleHelps }) };
  if (e instanceof NotFound) return { status: 404, body: body(e.code, e.message) };
  if (e instanceof Conflict) return { status: 409, body: body(e.code, e.message, e.details) };
  if (e instanceof TooManyRequests)
    return { status: 429, body: body(e.code, e.message), headers: { 'retry-after': String(e.retryAfterSeconds) } };
  if (e instanceof Overloaded)
    return { status: 503, body: body(e.code, e.message), headers: { 'retry-after': String(e.retryAfterSeconds) } };
  if (e instanceof RegistryError)
    return { status: 502, body: body(e.code, e.message, { registryCode: e.registryCode, status: e.status }) };
  if (e instanceof DigestMismatch || e instanceof NetworkError || e instanceof ProtocolError)
    return { status: 502, body: body(e.code, e.message) };
  if (e instanceof DatabaseUnavailable || isDatabaseOutage(e))
    return {
      status: 503,
      body: body(
        'DATABASE_UNAVAILABLE',
        e instanceof DatabaseUnavailable ? e.message : 'the database cannot be reached; try again shortly',
      ),
      headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
    };
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
  const framework = frameworkError(fe);
  if (framework) return { status: framework.status, body: body(framework.code, framework.message) };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: body(CODE_BY_STATUS[fe.statusCode] ?? 'BAD_REQUEST', fe.message) };
  }
  if (e instanceof HoistError) return { status: 500, body: body(e.code, e.message) };
  return {
    status: 500,
    body: body('INTERNAL', 'internal error; the server log has the details (look for this request id)'),
  };
}

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'HEADERS_TOO_LARGE',
    'the request headers are too large',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'REQUEST_TIMEOUT', 'the request did not arrive in time'],
};

/**
 * Node answers some malformed requests itself, before Fastify sees a request (headers too large: 431; a request that
 * never finishes: 408; bytes that are not HTTP: 400): the same error shape is written to the socket here.
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [
    400,
    'Bad Request',
    'BAD_REQUEST',
    'the request is not valid HTTP',
  ];
  const body = JSON.stringify({ error: { code, message } });
  if (!socket.writable) {
    socket.destroy(err);
    return;
  }
  // Answer, then read and drop what the client still sends until it closes (at most a second): a socket closed with
  // unread bytes makes the kernel send a reset, and a client still writing its oversized headers would see ECONNRESET
  // instead of this answer (Node 24 leaves more of them unread than Node 20 did).
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.resume();
  setTimeout(() => socket.destroy(), 1000).unref();
}
