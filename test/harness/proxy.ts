// An HTTP proxy in front of a real registry that records every request and injects faults a real registry cannot
// be made to show: a canned status, a response body with one byte flipped, a connection that dies mid-upload, a
// request held unanswered (a stalled transfer) until the test releases it, a response cut off or stalled after its
// headers and N body bytes, a response body sent slowly. Bodies
// stream both ways (nothing is buffered whole), upstream connections are kept alive, and the Host header is passed
// through unchanged so the registry's absolute Location headers point back at the proxy.
import {
  Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';

/** `path` is the request target as sent (path and query); `status` is 0 when no response was sent (a drop). */
export interface ProxiedRequest {
  method: string;
  path: string;
  status: number;
}

export type FaultAction =
  // answer this instead of forwarding
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  // forward, but flip one byte in the middle of the response body (same length)
  | { kind: 'corrupt' }
  // forward; once `bytes` of the REQUEST body reached the upstream (or the body ended), destroy both sockets
  | { kind: 'drop-after'; bytes: number }
  // hold the request unanswered until releaseStalled() forwards it (or stop() drops it)
  | { kind: 'stall' }
  // forward; send the response headers and the first `bytes` of the RESPONSE body, then destroy the connection
  | { kind: 'drop-response-after'; bytes: number }
  // forward; send the response headers and the first `bytes` of the RESPONSE body, then send nothing more (the
  // connection stays open until the client gives up or the proxy stops)
  | { kind: 'stall-response-after'; bytes: number }
  // forward, but send the response body no faster than this (bytes move for size / bytesPerSecond seconds)
  | { kind: 'slow'; bytesPerSecond: number };

/**
 * `pathMatch` is tested against the path and query. `times` is how many matching requests the rule applies to
 * (Infinity allowed). A `corrupt` rule never matches HEAD, which has no body to corrupt.
 */
export interface FaultRule {
  method?: string;
  pathMatch: RegExp;
  action: FaultAction;
  times: number;
}

export interface TestProxy {
  host: string;
  url: string;
  requests: ProxiedRequest[]; // every request seen, in order of arrival
  addFault(rule: FaultRule): void;
  /** How many requests are being held by `stall` rules now. */
  stalled(): number;
  /** Forwards every held request (those whose client has gone are dropped). */
  releaseStalled(): void;
  clear(): void; // clears faults and request log
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

export async function startProxy(targetUrl: string): Promise<TestProxy> {
  const target = new URL(targetUrl);
  const agent = new Agent({ keepAlive: true });
  const rules: { rule: FaultRule; left: number }[] = [];
  const requests: ProxiedRequest[] = [];
  const held: Array<{ req: IncomingMessage; res: ServerResponse; entry: ProxiedRequest }> = [];

  const takeFault = (method: string, path: string): FaultAction | undefined => {
    for (const r of rules) {
      if (r.left <= 0) continue;
      if (r.rule.method !== undefined && r.rule.method.toUpperCase() !== method) continue;
      if (r.rule.action.kind === 'corrupt' && method === 'HEAD') continue;
      r.rule.pathMatch.lastIndex = 0;
      if (!r.rule.pathMatch.test(path)) continue;
      r.left--;
      return r.rule.action;
    }
    return undefined;
  };

  const server = createServer((req, res) => {
    const entry: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', status: 0 };
    requests.push(entry);
    const fault = takeFault(entry.method, entry.path);
    if (fault?.kind === 'status') {
      req.resume();
      const body = Buffer.from(fault.body ?? '');
      const headers = Object.entries(fault.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-length');
      res.writeHead(fault.status, { ...Object.fromEntries(headers), 'Content-Length': String(body.length) });
      res.end(body);
      entry.status = fault.status;
      return;
    }
    if (fault?.kind === 'stall') {
      req.pause();
      held.push({ req, res, entry });
      return;
    }
    forward(req, res, entry, fault);
  });

  const forward = (req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest, fault?: FaultAction): void => {
    const upstream = request({
      host: target.hostname,
      port: target.port,
      method: entry.method,
      path: entry.path,
      headers: withoutHopByHop(req.headers),
      agent,
    });
    const killBoth = (): void => {
      entry.status = 0;
      upstream.destroy();
      req.socket.destroy();
    };
    upstream.on('error', () => {
      if (!res.headersSent && !req.socket.destroyed) {
        entry.status = 502;
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end('proxy: upstream connection failed');
      } else {
        res.destroy();
      }
    });
    req.on('error', () => upstream.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });

    if (fault?.kind === 'drop-after') {
      upstream.on('response', (up) => up.resume());
      dropAfter(req, upstream, fault.bytes, killBoth);
      return;
    }
    upstream.on('response', (up) => {
      entry.status = up.statusCode ?? 0;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, rawWithoutHopByHop(up.rawHeaders));
      const length = Number(up.headers['content-length'] ?? NaN);
      if (fault?.kind === 'corrupt') up.pipe(flipMiddleByte(length)).pipe(res);
      else if (fault?.kind === 'drop-response-after' || fault?.kind === 'stall-response-after') {
        res.flushHeaders();
        const stall = fault.kind === 'stall-response-after';
        truncateResponse(up, res, fault.bytes, () => {
          if (stall) return up.pause();
          entry.status = 0;
          upstream.destroy();
          req.socket.destroy();
        });
      } else if (fault?.kind === 'slow') up.pipe(throttle(fault.bytesPerSecond)).pipe(res);
      else up.pipe(res);
    });
    req.pipe(upstream);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no port');
  const host = `127.0.0.1:${address.port}`;
  let stopping: Promise<void> | undefined;
  return {
    host,
    url: `http://${host}`,
    requests,
    addFault: (rule) => rules.push({ rule, left: rule.times }),
    stalled: () => held.filter((h) => !h.req.socket.destroyed).length,
    releaseStalled: () => {
      for (const h of held.splice(0)) {
        if (h.req.socket.destroyed) continue;
        h.req.resume();
        forward(h.req, h.res, h.entry);
      }
    },
    clear: () => {
      rules.length = 0;
      requests.length = 0;
    },
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      })),
  };
}

/** Copies the request body upstream until `limit` bytes have been flushed there, then calls `kill`. */
function dropAfter(req: IncomingMessage, upstream: ReturnType<typeof request>, limit: number, kill: () => void): void {
  let sent = 0;
  let pending = 0;
  let reqEnded = false;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    req.pause();
    kill();
  };
  upstream.flushHeaders();
  if (limit <= 0) {
    finish();
    return;
  }
  req.on('data', (chunk: Buffer) => {
    if (done) return;
    const room = limit - sent;
    const part = chunk.length < room ? chunk : chunk.subarray(0, room);
    sent += part.length;
    pending++;
    const last = sent >= limit;
    if (last) req.pause();
    const flushed = upstream.write(part, () => {
      pending--;
      if (last || (reqEnded && pending === 0)) finish();
    });
    if (!flushed && !last) {
      req.pause();
      upstream.once('drain', () => req.resume());
    }
  });
  req.on('end', () => {
    reqEnded = true;
    if (pending === 0) finish();
  });
}

/** Copies the response body until `limit` bytes have been flushed to the client, then calls `cut` (once). */
function truncateResponse(up: IncomingMessage, res: ServerResponse, limit: number, cut: () => void): void {
  let sent = 0;
  // Set once the limit is reached: from then on the body's end must not end the response normally.
  let reached = limit <= 0;
  const finish = (): void => {
    up.pause();
    cut();
  };
  if (reached) {
    // Let the headers reach the client before the connection goes.
    setImmediate(finish);
    return;
  }
  up.on('data', (chunk: Buffer) => {
    if (reached) return;
    const part = chunk.subarray(0, limit - sent);
    sent += part.length;
    reached = sent >= limit;
    if (!reached) {
      res.write(part);
      return;
    }
    up.pause();
    res.write(part, finish);
  });
  up.on('end', () => {
    if (!reached) res.end();
  });
}

/** Flips (XOR 0xff) the byte at length/2; without a Content-Length, the middle byte of the first non-empty chunk. */
function flipMiddleByte(length: number): Transform {
  let seen = 0;
  let flipped = false;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      if (!flipped && chunk.length > 0) {
        const at = Number.isFinite(length) ? Math.floor(length / 2) - seen : Math.floor(chunk.length / 2);
        if (at >= 0 && at < chunk.length) {
          const copy = Buffer.from(chunk);
          copy[at] = (copy[at] ?? 0) ^ 0xff;
          chunk = copy;
          flipped = true;
        }
      }
      seen += chunk.length;
      callback(null, chunk);
    },
  });
}

/** Passes chunks on no faster than `bytesPerSecond`, counted from the first chunk. */
function throttle(bytesPerSecond: number): Transform {
  let start: number | undefined;
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      start ??= Date.now();
      passed += chunk.length;
      const wait = start + (passed / bytesPerSecond) * 1000 - Date.now();
      if (wait <= 0) callback(null, chunk);
      else setTimeout(() => callback(null, chunk), wait);
    },
  });
}

function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

function rawWithoutHopByHop(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1] ?? '');
  }
  return out;
}
