/**
 * Telling a database outage from a bad query: the server answers an outage with 503 and Retry-After (try again
 * shortly), not with a 500 that says something is wrong with the request or the code. Connection errors from the
 * socket, PostgreSQL's "shutting down" and "cannot connect now" codes (class 57P), connection exceptions (class 08),
 * too many connections, and pg's own "connection terminated" errors count; PGlite runs in-process and has none.
 */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

export function isDatabaseOutage(e: unknown): boolean {
  for (let err = e as { code?: unknown; message?: unknown; cause?: unknown } | undefined, i = 0; err && i < 4; i++) {
    const code = typeof err.code === 'string' ? err.code : '';
    if (SOCKET_CODES.has(code) || /^(57P0[1-3]|08\d\d\d|53300)$/.test(code)) return true;
    const message = typeof err.message === 'string' ? err.message : '';
    if (
      /^Connection terminated|^timeout exceeded when trying to connect|Client has encountered a connection error/.test(
        message,
      )
    )
      return true;
    err = err.cause as typeof err;
  }
  return false;
}
