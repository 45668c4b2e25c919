// A timeline of one `hoist copy` process, for finding where its time goes (`bench/copy/timeline.ts`, or by
// hand: `node --import ./bench/copy/trace.mjs dist/hoist.mjs copy ...`). Loaded before hoist, it wraps node:http's
// request (hoist reads it through require, so it gets the wrapped one) and, at exit, writes to HOIST_BENCH_TRACE (a
// file) one JSON line: when the hook ran (≈ Node's own start-up), when hoist's first request went out, each request's
// start, response headers and end (ms since the process began), and when the process exited. Bench tooling only.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const http = require('node:http');
const out = process.env.HOIST_BENCH_TRACE;
const hookAt = performance.now();
const requests = [];
const original = http.request;
http.request = function tracedRequest(url, options, ...rest) {
  const u = url instanceof URL ? url : new URL(String(url));
  const entry = {
    method: options?.method ?? 'GET',
    path: u.pathname + u.search,
    host: u.host,
    start: performance.now(),
  };
  requests.push(entry);
  const req = original.call(this, url, options, ...rest);
  req.once('socket', (s) => {
    entry.socket = performance.now();
    entry.newConnection = s.connecting;
  });
  req.once('response', (res) => {
    entry.headers = performance.now();
    entry.status = res.statusCode;
    res.once('end', () => (entry.end = performance.now()));
  });
  req.once('close', () => (entry.closed = performance.now()));
  return req;
};
process.once('exit', () => {
  if (!out) return;
  const r = (n) => (n === undefined ? undefined : Math.round(n * 10) / 10);
  const line = {
    hook: r(hookAt),
    exit: r(performance.now()),
    requests: requests.map((q) => ({
      ...q,
      start: r(q.start),
      socket: r(q.socket),
      headers: r(q.headers),
      end: r(q.end),
      closed: r(q.closed),
    })),
  };
  writeFileSync(out, `${JSON.stringify(line)}\n`, { flag: 'a' });
});
