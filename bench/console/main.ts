/**
 * `npm run bench:console`: how long the web console takes to show a board of 50 applications × 6 environments and
 * make it usable, measured in a real Chromium (Debian's, driven by playwright-core) against an in-process hoist
 * server on the embedded database (`-- postgres` for PostgreSQL), seeded like `bench:board` (bench/board/seed.ts).
 *
 * Each load is a first visit: a fresh browser context (empty cache) with the admin's session cookie navigates to
 * /projects/bench. A script added before the page's own (through the driver, so the Content-Security-Policy still
 * holds for the page) watches the DOM and records `performance.now()` — milliseconds since the navigation started —
 * at the first moment the board table has all its rows and one of its promote buttons is enabled and takes the
 * focus. That instant is the figure; the navigation and resource timings say where the time went: the bench prints
 * a timeline (medians: each file and API answer asked for and arrived, the entry run, first content, the table, ready)
 * and what /me and the board cost the server alone. BENCH_TRACE=1 adds one load's main thread from Chromium's trace,
 * BENCH_PROFILE=1 one load's functions by CPU time. Reports p50/p90 of BENCH_LOADS loads (default 15) after 2 warm-up
 * loads, and writes JSON under bench/results/. Target: < 1000 ms p50.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { HoistClient } from '../../src/client/index.ts';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../../test/helpers/browser.ts';
import { APPS, ENVS, seedBoardProject } from '../board/seed.ts';
import { benchBackend, startBenchServer } from '../server.ts';

const LOADS = Number(process.env.BENCH_LOADS ?? 15);
const WARMUP = 2;
const TARGET_MS = 1000;
const PROJECT = 'bench';
const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * Runs in the page before its scripts: the first time the board is complete and a promote button is enabled and
 * focusable, remember when (ms since navigation start). Page code, as a string: this file compiles without the DOM.
 */
const READY_PROBE = `(() => {
  const rows = ${APPS};
  const marks = (window.__marks = {});
  const longTasks = (window.__longTasks = []);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longTasks.push([Math.round(e.startTime), Math.round(e.duration)]);
    }).observe({ type: 'longtask', buffered: true });
  } catch {}
  const check = () => {
    if (window.__boardReady !== undefined) return true;
    if (marks.firstContent === undefined && document.getElementById('root')?.firstElementChild)
      marks.firstContent = performance.now();
    const table = document.querySelector('table.board');
    if (!table || table.tBodies[0]?.rows.length !== rows) return false;
    marks.tablePresent ??= performance.now();
    const button = [...table.querySelectorAll('td button:not([disabled])')].find((b) =>
      b.textContent.startsWith('Promote'),
    );
    if (!button) return false;
    button.focus();
    if (document.activeElement !== button) return false;
    window.__boardReady = performance.now();
    button.blur();
    return true;
  };
  const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
  observer.observe(document, { childList: true, subtree: true, attributes: true });
})();`;

/**
 * Page code, as a string: where the time of one load went, in ms since navigation start. Each resource by a short
 * name (the entry's script, the stylesheet, other chunks by their name, /me, the board, the event stream): when it
 * was asked for and when its last byte came; the page's own milestones from the probe; long tasks (≥ 50 ms).
 */
const TIMELINE = `(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const short = (url) => {
    const path = new URL(url).pathname;
    if (path.startsWith('/api/')) return path.replace(/^\\/api\\/v1/, '').replace(/\\/projects\\/[^/]+/, '/projects/P');
    return path.replace(/^\\/assets\\//, '').replace(/-[\\w-]{8}\\.(js|css)$/, '.$1');
  };
  const resources = performance.getEntriesByType('resource').map((r) => ({
    name: short(r.name),
    start: r.startTime,
    responseStart: r.responseStart,
    end: r.responseEnd,
    transfer: r.transferSize,
    body: r.decodedBodySize,
  }));
  return {
    html: { responseEnd: nav.responseEnd, domInteractive: nav.domInteractive, dcl: nav.domContentLoadedEventEnd,
      transfer: nav.transferSize },
    resources,
    marks: { ...window.__marks, ready: window.__boardReady },
    longTasks: window.__longTasks,
    scriptBytes: performance.getEntriesByType('resource').filter((r) => r.name.endsWith('.js'))
      .reduce((n, r) => n + r.transferSize, 0),
  };
})()`;

interface Timeline {
  html: { responseEnd: number; domInteractive: number; dcl: number; transfer: number };
  resources: Array<{ name: string; start: number; responseStart: number; end: number; transfer: number; body: number }>;
  marks: { firstContent?: number; tablePresent?: number; ready: number };
  longTasks: Array<[number, number]>;
  scriptBytes: number;
}

/** The medians of every load's milestones, in the order they happen (a resource's name: asked → response end). */
function medianTimeline(loads: Timeline[]): Record<string, number> {
  const at = new Map<string, number[]>();
  const add = (key: string, ms: number | undefined) => {
    if (ms === undefined || ms <= 0) return;
    at.set(key, [...(at.get(key) ?? []), ms]);
  };
  for (const l of loads) {
    add('html: response end', l.html.responseEnd);
    add('html: parsed (domInteractive)', l.html.domInteractive);
    add('entry script run (DOMContentLoaded end)', l.html.dcl);
    const seen = new Set<string>();
    for (const r of l.resources) {
      if (seen.has(r.name)) continue;
      seen.add(r.name);
      add(`${r.name}: asked`, r.start);
      if (r.name.startsWith('/')) add(`${r.name}: first byte`, r.responseStart);
      add(`${r.name}: response end`, r.end);
    }
    add('first content in #root', l.marks.firstContent);
    add('board table with all rows', l.marks.tablePresent);
    add('READY (a promote button takes the focus)', l.marks.ready);
  }
  return Object.fromEntries(
    [...at.entries()].map(([k, xs]) => [k, round(percentile(xs, 50))] as const).sort((a, b) => a[1] - b[1]),
  );
}

/**
 * BENCH_TRACE=1: one more load under Chromium's tracing; prints the renderer's main thread, task by task (≥ 3 ms),
 * with the network requests, in ms since navigation start: what the page did while it waited and after.
 */
async function traceOnce(b: Browser, url: string, session: string): Promise<void> {
  const context = await b.newContext({ viewport: { width: 1600, height: 1000 } });
  await context.addCookies([{ name: 'hoist_session', value: session, url }]);
  await context.addInitScript({ content: READY_PROBE });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  type TraceEvent = {
    name: string;
    ph: string;
    ts: number;
    dur?: number;
    pid: number;
    tid: number;
    args?: { data?: Record<string, unknown>; name?: string };
  };
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...(e.value as unknown as TraceEvent[])));
  const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
  await cdp.send('Tracing.start', {
    transferMode: 'ReportEvents',
    traceConfig: {
      includedCategories: [
        'devtools.timeline',
        'disabled-by-default-devtools.timeline',
        'blink.user_timing',
        'loading',
        'v8.execute',
        'toplevel',
      ],
    },
  });
  await page.goto(`${url}/projects/${PROJECT}`);
  await page.waitForFunction(() => (globalThis as { __boardReady?: number }).__boardReady, null, { timeout: 30_000 });
  const ready = (await page.evaluate('window.__boardReady')) as number;
  await cdp.send('Tracing.end');
  await done;
  await context.close();
  const target = `${url}/projects/${PROJECT}`;
  const nav = events.find(
    (e) => e.name === 'navigationStart' && String(e.args?.data?.documentLoaderURL ?? '').startsWith(target),
  );
  const send = events.filter((e) => e.name === 'ResourceSendRequest' && e.pid === nav?.pid);
  const zero = nav?.ts ?? send.find((e) => e.args?.data?.url === target)?.ts ?? 0;
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain' && e.pid === nav?.pid);
  const ms = (ts: number) => ((ts - zero) / 1000).toFixed(1).padStart(7);
  const names = new Map<string, string>();
  const lines: Array<[number, string]> = [];
  for (const e of send) {
    const u = String(e.args?.data?.url ?? '');
    names.set(String(e.args?.data?.requestId), u.replace(url, ''));
    lines.push([e.ts, `→ request ${u.replace(url, '')}`]);
  }
  for (const e of events.filter((x) => x.name === 'ResourceFinish' && x.pid === nav?.pid))
    lines.push([e.ts, `← done ${names.get(String(e.args?.data?.requestId)) ?? '?'}`]);
  const what = (e: TraceEvent): string => {
    const d = e.args?.data ?? {};
    const where = String(d.url ?? d.scriptName ?? d.functionName ?? '').replace(url, '');
    return `${e.name}${where ? ` ${where}` : ''}${d.type ? ` ${String(d.type)}` : ''}`;
  };
  const ready0 = zero + ready * 1000;
  for (const e of events) {
    if (e.ph !== 'X' || e.tid !== main?.tid || e.pid !== main?.pid || (e.dur ?? 0) < 3000) continue;
    if (e.ts < zero || e.ts > ready0 + 50_000) continue;
    // Top-level tasks and what they contain (one level of detail is enough to see parse, script, layout, paint).
    if (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask' || e.name.startsWith('V8.GC')) continue;
    lines.push([e.ts, `  ${((e.dur ?? 0) / 1000).toFixed(1).padStart(6)} ms  ${what(e)}`]);
  }
  lines.push([ready0, `READY`]);
  lines.sort((x, y) => x[0] - y[0]);
  process.stderr.write(`trace of one load (ms since navigation start; main-thread tasks ≥ 3 ms):\n`);
  for (const [ts, line] of lines) if (ts >= zero) process.stderr.write(`${ms(ts)}  ${line}\n`);
}

/** BENCH_PROFILE=1: one more load under V8's profiler; prints the page's functions by self time (where it goes). */
async function profileOnce(b: Browser, url: string, session: string): Promise<void> {
  const context = await b.newContext({ viewport: { width: 1600, height: 1000 } });
  await context.addCookies([{ name: 'hoist_session', value: session, url }]);
  await context.addInitScript({ content: READY_PROBE });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  await page.goto(`${url}/projects/${PROJECT}`);
  await page.waitForFunction(() => (globalThis as { __boardReady?: number }).__boardReady, null, { timeout: 30_000 });
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map<string, number>();
  const dt = profile.timeDeltas ?? [];
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  (profile.samples ?? []).forEach((id, k) => {
    const f = byId.get(id)?.callFrame;
    const key = `${f?.functionName || '(anonymous)'} ${(f?.url ?? '').split('/').pop()}:${f?.lineNumber ?? 0}`;
    self.set(key, (self.get(key) ?? 0) + (dt[k] ?? 0) / 1000);
  });
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  for (const [name, ms] of top) process.stderr.write(`${ms.toFixed(1).padStart(8)} ms  ${name}\n`);
  await context.close();
}

const backend = benchBackend();
const server = await startBenchServer(backend);
const browser = await launchBrowser();
try {
  const c = new HoistClient(server.url, server.token);
  process.stderr.write(`[${backend}] seeding ${APPS} applications × ${ENVS.length} environments\n`);
  const promotions = await seedBoardProject(c, server.database.db, PROJECT);
  const login = await fetch(`${server.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'bench-password-1' }),
  });
  const session = /hoist_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
  if (!login.ok || session === undefined) throw new Error(`signing in failed: ${login.status}`);

  // The server alone (no browser): what /me and the board cost it, one request at a time.
  const serverMs: Record<string, number> = {};
  for (const path of ['/api/v1/me', `/api/v1/projects/${PROJECT}/board`]) {
    const times: number[] = [];
    for (let k = 0; k < 12; k++) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}${path}`, { headers: { cookie: `hoist_session=${session}` } });
      await res.arrayBuffer();
      if (k >= 2) times.push(performance.now() - t0);
    }
    serverMs[path.replace(`/projects/${PROJECT}`, '/projects/P')] = round(percentile(times, 50));
  }
  process.stderr.write(`server alone, p50: ${JSON.stringify(serverMs)}\n`);

  const loads: Timeline[] = [];
  process.stderr.write(`[${backend}] ${WARMUP} + ${LOADS} loads of /projects/${PROJECT}\n`);
  for (let i = 0; i < WARMUP + LOADS; i++) {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    await context.addCookies([{ name: 'hoist_session', value: session, url: server.url }]);
    await context.addInitScript({ content: READY_PROBE });
    const page = await context.newPage();
    await page.goto(`${server.url}/projects/${PROJECT}`);
    await page.waitForFunction(() => (globalThis as { __boardReady?: number }).__boardReady, null, {
      timeout: 30_000,
    });
    const load = (await page.evaluate(TIMELINE)) as Timeline;
    // Sanity, not timed: the button found really opens the promote dialog.
    if (i === 0) {
      await page
        .locator('table.board td button:not([disabled])', { hasText: /^Promote/ })
        .first()
        .click();
      await page.getByRole('dialog').waitFor();
    }
    if (i >= WARMUP) loads.push(load);
    if (process.env.BENCH_PROFILE && i === WARMUP) await profileOnce(browser, server.url, session);
    if (process.env.BENCH_TRACE && i === WARMUP) await traceOnce(browser, server.url, session);
    await context.close();
  }
  const ready = loads.map((l) => l.marks.ready);
  const timeline = medianTimeline(loads);
  process.stderr.write(`timeline (medians of ${LOADS} loads, ms since navigation start):\n`);
  for (const [what, ms] of Object.entries(timeline)) process.stderr.write(`${ms.toFixed(0).padStart(7)}  ${what}\n`);
  const result = {
    timestamp: new Date().toISOString(),
    target: `< ${TARGET_MS} ms p50 from navigation to the board present and a promote button focusable`,
    database: backend,
    applications: APPS,
    environments: ENVS.length,
    promotions,
    loads: LOADS,
    p50ms: round(percentile(ready, 50)),
    p90ms: round(percentile(ready, 90)),
    maxMs: round(Math.max(...ready)),
    // Where the time goes (medians, ms since navigation start).
    timeline,
    serverAloneP50ms: serverMs,
    longTasksPerLoad: round(
      percentile(
        loads.map((l) => l.longTasks.length),
        50,
      ),
    ),
    longTaskMsPerLoad: round(
      percentile(
        loads.map((l) => l.longTasks.reduce((n, [, d]) => n + d, 0)),
        50,
      ),
    ),
    scriptBytesTransferred: loads[0]?.scriptBytes ?? 0,
    boardBytesTransferred: loads[0]?.resources.find((r) => r.name.endsWith('/board'))?.transfer ?? 0,
    loadAverage: Math.round(loadavg()[0]! * 10) / 10,
  };
  process.stdout.write(
    `console board, ${APPS} applications × ${ENVS.length} environments (${backend} database): ready p50 ${result.p50ms} ms, p90 ${result.p90ms} ms, max ${result.maxMs} ms over ${LOADS} first visits (board answer by ${Object.entries(result.timeline).find(([k]) => k.endsWith('/board: response end'))?.[1] ?? -1} ms; load average ${result.loadAverage}); target < ${TARGET_MS} ms p50: ${result.p50ms < TARGET_MS ? 'PASS' : 'MISS'}\n`,
  );
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}console-${result.timestamp.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await browser.close();
  await server.close();
}
