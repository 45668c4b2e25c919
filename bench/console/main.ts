/**
 * `npm run bench:console`: how long the web console takes to show a board of 50 applications × 6 environments and
 * make it usable, measured in a real Chromium (Debian's, driven by playwright-core) against an in-process hoist
 * server on the embedded database (`-- postgres` for PostgreSQL), seeded like `bench:board` (bench/board/seed.ts).
 *
 * Each load is a first visit: a fresh browser context (empty cache) with the admin's session cookie navigates to
 * /projects/bench. A script added before the page's own (through the driver, so the Content-Security-Policy still
 * holds for the page) watches the DOM and records `performance.now()` — milliseconds since the navigation started —
 * at the first moment the board table has all its rows and one of its promote buttons is enabled and takes the
 * focus. That instant is the figure; the navigation and resource timings say where the time went. Reports p50/p90
 * of BENCH_LOADS loads (default 15) after 2 warm-up loads, and writes JSON under bench/results/. Target: < 1000 ms
 * p50.
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
  const check = () => {
    if (window.__boardReady !== undefined) return true;
    const table = document.querySelector('table.board');
    if (!table || table.tBodies[0]?.rows.length !== rows) return false;
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

interface Load {
  readyMs: number;
  responseEndMs: number;
  domContentLoadedMs: number;
  boardRequestEndMs: number;
  scriptBytes: number;
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

  const loads: Load[] = [];
  process.stderr.write(`[${backend}] ${WARMUP} + ${LOADS} loads of /projects/${PROJECT}\n`);
  for (let i = 0; i < WARMUP + LOADS; i++) {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    await context.addCookies([{ name: 'hoist_session', value: session, url: server.url }]);
    await context.addInitScript({ content: READY_PROBE });
    const page = await context.newPage();
    await page.goto(`${server.url}/projects/${PROJECT}`);
    const readyMs = await page.waitForFunction(() => (globalThis as { __boardReady?: number }).__boardReady, null, {
      timeout: 30_000,
    });
    const load = (await page.evaluate(`(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const resources = performance.getEntriesByType('resource');
      const board = resources.find((r) => r.name.endsWith('/board'));
      return {
        responseEndMs: nav.responseEnd,
        domContentLoadedMs: nav.domContentLoadedEventEnd,
        boardRequestEndMs: board ? board.responseEnd : -1,
        scriptBytes: resources.filter((r) => r.initiatorType === 'script' || r.name.endsWith('.js'))
          .reduce((n, r) => n + r.transferSize, 0),
      };
    })()`)) as Omit<Load, 'readyMs'>;
    // Sanity, not timed: the button found really opens the promote dialog.
    if (i === 0) {
      await page
        .locator('table.board td button:not([disabled])', { hasText: /^Promote/ })
        .first()
        .click();
      await page.getByRole('dialog').waitFor();
    }
    if (i >= WARMUP) loads.push({ readyMs: (await readyMs.jsonValue()) as number, ...load });
    if (process.env.BENCH_PROFILE && i === WARMUP) await profileOnce(browser, server.url, session);
    await context.close();
  }
  const ready = loads.map((l) => l.readyMs);
  const median = (pick: (l: Load) => number) => round(percentile(loads.map(pick), 50));
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
    medians: {
      htmlResponseEnd: median((l) => l.responseEndMs),
      domContentLoaded: median((l) => l.domContentLoadedMs),
      boardAnswerEnd: median((l) => l.boardRequestEndMs),
    },
    scriptBytesTransferred: loads[0]?.scriptBytes ?? 0,
    loadAverage: Math.round(loadavg()[0]! * 10) / 10,
  };
  process.stdout.write(
    `console board, ${APPS} applications × ${ENVS.length} environments (${backend} database): ready p50 ${result.p50ms} ms, p90 ${result.p90ms} ms, max ${result.maxMs} ms over ${LOADS} first visits (board answer by ${result.medians.boardAnswerEnd} ms; load average ${result.loadAverage}); target < ${TARGET_MS} ms p50: ${result.p50ms < TARGET_MS ? 'PASS' : 'MISS'}\n`,
  );
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}console-${result.timestamp.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await browser.close();
  await server.close();
}
