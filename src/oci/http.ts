/**
 * HTTP for the registry client on node:http(s): keep-alive agents with a per-origin socket limit (the per-host
 * concurrency limit), streamed request and response bodies, an AbortSignal and idle time-outs on every request.
 *
 * Why not undici (the first choice): a `hoist copy` that finds the image present is dominated by start-up, and
 * undici cost about 40 ms to load plus up to 50 ms at exit, waiting for V8 to finish optimising its WebAssembly HTTP
 * parser; node:http loads in about 5 ms (measured here). Throughput on large blobs is the same (bench:copy).
 */
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage, ClientRequest } from 'node:http';
import type * as HttpModule from 'node:http';
import { createRequire } from 'node:module';
import type * as HttpsModule from 'node:https';
import type { Readable } from 'node:stream';
import type { OutboundGuard } from '../net/guarded-lookup.ts';

type Https = typeof HttpsModule;
const load = createRequire(import.meta.url);
/**
 * node:http through require, not an ESM import: Node builds an ES module facade for a builtin imported by name, and
 * for node:http that reads every export, including the lazy ones that load the bundled undici (about 20 ms).
 */
const { request: httpRequest, Agent: PlainAgent } = load('node:http') as typeof HttpModule;
/** node:https (and TLS with it) is loaded on first use: a run against plain-HTTP registries never pays for it. */
const https = (): Https => load('node:https') as Https;

export interface AgentOptions {
  /** Sockets per origin; requests beyond it queue. */
  connections: number;
  /** No bytes for this long on a socket (waiting for headers or between body chunks) fails the request. */
  idleTimeoutMs: number;
  /**
   * The server's outbound policy: every connection's host is checked before connecting (its resolved addresses, or
   * the address literal). None for the CLI, which connects where its user says.
   */
  guard?: OutboundGuard;
}

/** A registry that sends nothing for this long (no response headers, or a body that stalls) has failed the request. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * The idle time-out for registry connections: `HOIST_REGISTRY_IDLE_TIMEOUT` seconds (the CLI and the server read it
 * alike), else 30 s. A stalled source then fails its transfer, named, instead of holding a promotion forever.
 */
export function registryIdleTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HOIST_REGISTRY_IDLE_TIMEOUT?.trim();
  const seconds = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : DEFAULT_IDLE_TIMEOUT_MS;
}

/** Keep-alive connection pools, one for plain HTTP and (loaded only when needed) one for HTTPS. */
export class Agent {
  private plain: HttpAgent | undefined;
  private tls: HttpAgent | undefined;
  constructor(readonly options: AgentOptions) {}

  forProtocol(protocol: string): HttpAgent {
    const opts = {
      keepAlive: true,
      maxSockets: this.options.connections,
      maxFreeSockets: this.options.connections,
      scheduling: 'lifo' as const,
      ...(this.options.guard ? { lookup: this.options.guard.lookup } : {}),
    };
    if (protocol === 'https:') {
      this.tls ??= new (https().Agent)(opts);
      return this.tls;
    }
    this.plain ??= new PlainAgent(opts);
    return this.plain;
  }

  destroy(): void {
    this.plain?.destroy();
    this.tls?.destroy();
  }
}

export interface ResponseBody extends IncomingMessage {
  /** Reads and discards the rest of the body, so the connection can be reused. */
  dump(): Promise<void>;
}

export interface Response {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: ResponseBody;
}

export interface RequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: Buffer | Readable | undefined;
  dispatcher: Agent;
  signal?: AbortSignal | undefined;
}

function withDump(res: IncomingMessage): ResponseBody {
  const body = res as ResponseBody;
  // The socket goes back to the pool only after 'end', so even a fully received body must be read out.
  body.dump = () =>
    new Promise<void>((resolve) => {
      if (res.readableEnded || res.destroyed) return resolve();
      res.once('end', resolve);
      res.once('close', resolve);
      res.once('error', () => resolve());
      res.resume();
    });
  return body;
}

/** Sends one request; resolves when the response headers arrive (the body streams after). */
export function request(url: string, opts: RequestOptions): Promise<Response> {
  const u = new URL(url);
  const transport: typeof httpRequest = u.protocol === 'https:' ? https().request : httpRequest;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (Buffer.isBuffer(opts.body)) headers['content-length'] = String(opts.body.length);
    let req: ClientRequest;
    try {
      opts.dispatcher.options.guard?.checkHost(u.hostname);
      req = transport(u, {
        method: opts.method,
        headers,
        agent: opts.dispatcher.forProtocol(u.protocol),
        signal: opts.signal,
      });
    } catch (e) {
      reject(e as Error);
      return;
    }
    let settled = false;
    let response: IncomingMessage | undefined;
    // The socket's idle timer runs while the body streams too: a stalled body fails with this error, not a bare
    // `aborted`, so the caller can say what happened.
    req.setTimeout(opts.dispatcher.options.idleTimeoutMs, () => {
      const ms = opts.dispatcher.options.idleTimeoutMs;
      const error = Object.assign(new Error(`no data for ${ms} ms`), { code: 'ETIMEDOUT' });
      if (response !== undefined && !response.complete) response.destroy(error);
      req.destroy(error);
    });
    req.on('response', (res) => {
      settled = true;
      response = res;
      // A registry may answer before it has read the whole body (413, 401): stop sending.
      if (opts.body !== undefined && !Buffer.isBuffer(opts.body) && !opts.body.readableEnded) opts.body.unpipe(req);
      resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: withDump(res) });
    });
    req.on('error', (e) => {
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else if (body.destroyed) {
      // A body that failed before it could be sent (its source dropped) fails the request now, not at the time-out.
      req.destroy(body.errored ?? new Error('the request body was closed before it was sent'));
    } else {
      // The body's own error (a digest mismatch from a verifying stream) is the cause of the failed request.
      body.once('error', (e) => req.destroy(e));
      body.pipe(req);
    }
  });
}
