/**
 * HTTP to one registry host: connection reuse through a shared keep-alive Agent (whose per-origin connection limit is
 * the per-host concurrency limit), authorization through the host's Authenticator, and retries with exponential
 * backoff for 408, 429, 5xx and dropped connections, honouring `Retry-After`. Only requests whose body can be sent
 * again are retried here; a streamed upload is retried whole by its caller. Every call takes an AbortSignal.
 */
import { Agent, registryIdleTimeoutMs, request, type Response } from './http.ts';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetworkError, ProtocolError, RegistryError, type RegistryErrorEntry } from '../errors.ts';
import { Authenticator, type TokenResponse } from './authenticator.ts';
import { backoffDelay, isRetriableNetworkError, isTransientStatus } from './transient.ts';
import type { Credentials } from './credentials.ts';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 200, maxDelayMs: 10_000 };

export interface TransportOptions {
  /** `host[:port]` as in references. */
  host: string;
  /** Plain HTTP instead of HTTPS. */
  insecure: boolean;
  credentials?: Credentials;
  retry?: RetryPolicy;
  /** Shared connection pool; one per process is best. */
  agent?: Agent;
  /** Called once per HTTP request sent (for counting in tests and benchmarks). */
  onRequest?: (method: string, url: string) => void;
}

export interface SendOptions {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** A path on this host (`/v2/...`) or an absolute URL (a Location header). */
  url: string;
  /** Auth scopes the request needs (`repository:prod/web:pull,push`). */
  scopes: readonly string[];
  headers?: Record<string, string>;
  /** A Buffer can be sent again on retry; a stream cannot, so a request with a stream body is never retried here. */
  body?: Buffer | Readable;
  /** What this request does, for error messages (`GET manifest prod/web:1.0`). */
  operation: string;
  signal?: AbortSignal;
  /** Disable retries for requests that are not safe to repeat. */
  retry?: boolean;
  /** Send no Authorization (a redirect to blob storage on another origin must not receive the registry's token). */
  anonymous?: boolean;
}

export type { Response };

let sharedAgent: Agent | undefined;
export function defaultAgent(): Agent {
  sharedAgent ??= new Agent({ connections: 32, idleTimeoutMs: registryIdleTimeoutMs() });
  return sharedAgent;
}

export { isRetriableNetworkError };

const ATTEMPTS = Symbol('attempts');

function withAttempts(e: NetworkError, attempts: number): NetworkError {
  return Object.assign(e, { [ATTEMPTS]: attempts });
}

/** How many times the transport sent the request that failed with `e` (1 when it does not know). */
export function attemptsOf(e: unknown): number {
  const n = (e as { [ATTEMPTS]?: unknown } | undefined)?.[ATTEMPTS];
  return typeof n === 'number' ? n : 1;
}

/** Milliseconds to wait from a Retry-After header (seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function header(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class Transport {
  readonly origin: string;
  readonly auth: Authenticator;
  private readonly agent: Agent;
  private readonly retry: RetryPolicy;
  requestCount = 0;

  constructor(private readonly opts: TransportOptions) {
    this.origin = `${opts.insecure ? 'http' : 'https'}://${opts.host}`;
    this.agent = opts.agent ?? defaultAgent();
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.auth = new Authenticator(opts.host, opts.credentials, (url, headers, signal) =>
      this.fetchToken(url, headers, signal),
    );
  }

  get host(): string {
    return this.opts.host;
  }

  resolve(url: string): string {
    return new URL(url, this.origin).toString();
  }

  /** Sends a request; answers any status the caller has to interpret, after auth and retries are exhausted. */
  async send(o: SendOptions): Promise<Response> {
    const url = this.resolve(o.url);
    const replayable = o.body === undefined || Buffer.isBuffer(o.body);
    const canRetry = replayable && o.retry !== false;
    let authRetried = false;
    for (let attempt = 0; ; attempt++) {
      o.signal?.throwIfAborted();
      const auth = o.anonymous ? undefined : await this.auth.header(o.scopes, o.signal);
      const headers: Record<string, string> = { ...o.headers };
      if (auth) headers.authorization = auth;
      let res: Response;
      try {
        this.requestCount++;
        this.opts.onRequest?.(o.method, url);
        res = await request(url, { method: o.method, headers, body: o.body, dispatcher: this.agent, signal: o.signal });
      } catch (e) {
        if (o.signal?.aborted) throw o.signal.reason ?? e;
        if (canRetry && attempt < this.retry.retries && isRetriableNetworkError(e)) {
          await sleep(this.backoff(attempt), undefined, { signal: o.signal });
          continue;
        }
        throw withAttempts(new NetworkError(`${o.operation} (${o.method} ${url})`, e), attempt + 1);
      }
      if (res.statusCode === 401 && !authRetried && replayable && !o.anonymous) {
        await res.body.dump();
        authRetried = true;
        if (this.auth.unauthorized(header(res, 'www-authenticate'), o.scopes, auth)) {
          attempt--;
          continue;
        }
        throw new RegistryError(o.operation, 401, [{ code: 'UNAUTHORIZED', message: this.unauthorizedHint() }]);
      }
      if (canRetry && isTransientStatus(res.statusCode) && attempt < this.retry.retries) {
        const wait = retryAfterMs(res.headers['retry-after']);
        await res.body.dump();
        await sleep(Math.min(wait ?? this.backoff(attempt), 60_000), undefined, { signal: o.signal });
        continue;
      }
      return res;
    }
  }

  private unauthorizedHint(): string {
    return this.opts.credentials
      ? `credentials for user "${this.opts.credentials.username}" were refused by ${this.opts.host}`
      : `${this.opts.host} requires credentials (pass --src-creds/--dest-creds USER:PASS or run docker login)`;
  }

  private backoff(attempt: number): number {
    return backoffDelay(attempt, this.retry);
  }

  /** Turns an unexpected response into a RegistryError carrying the registry's own error codes. */
  async fail(res: Response, operation: string): Promise<never> {
    if (res.statusCode === 401) {
      await res.body.dump();
      throw new RegistryError(operation, 401, [{ code: 'UNAUTHORIZED', message: this.unauthorizedHint() }]);
    }
    let entries: RegistryErrorEntry[] = [];
    try {
      const text = (await readLimited(res, 64 * 1024, operation)).toString('utf8');
      entries = parseErrorBody(text);
    } catch {
      // The status alone has to do.
    }
    throw new RegistryError(operation, res.statusCode, entries);
  }

  private async fetchToken(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<TokenResponse> {
    let res: Response;
    try {
      this.requestCount++;
      this.opts.onRequest?.('GET', url);
      res = await request(url, { method: 'GET', headers, dispatcher: this.agent, signal });
    } catch (e) {
      throw new NetworkError(`token request to ${new URL(url).origin}`, e);
    }
    if (res.statusCode !== 200) return this.fail(res, `token request to ${new URL(url).origin}`);
    const body = JSON.parse((await readLimited(res, 1 << 20, 'token response')).toString('utf8')) as Record<
      string,
      unknown
    >;
    const token =
      typeof body.token === 'string'
        ? body.token
        : typeof body.access_token === 'string'
          ? body.access_token
          : undefined;
    if (!token) throw new ProtocolError(`token response from ${new URL(url).origin} has no token`);
    const expires = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { token, expiresInSeconds: expires };
  }
}

/** Reads a whole (small) body, refusing more than `limit` bytes as soon as they arrive. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(header(res, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    res.body.destroy();
    throw new ProtocolError(`${what}: ${declared} bytes is over the ${limit}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      res.body.destroy();
      throw new ProtocolError(`${what}: more than the ${limit}-byte limit`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

export function parseErrorBody(text: string): RegistryErrorEntry[] {
  try {
    const doc = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(doc.errors)) return [];
    return doc.errors.flatMap((e: unknown) => {
      const r = e as { code?: unknown; message?: unknown; detail?: unknown };
      if (typeof r.code !== 'string') return [];
      const entry: RegistryErrorEntry = { code: r.code, message: typeof r.message === 'string' ? r.message : '' };
      if (r.detail !== undefined) entry.detail = r.detail;
      return [entry];
    });
  } catch {
    return text.trim() ? [{ code: 'UNKNOWN', message: text.trim().slice(0, 200) }] : [];
  }
}
