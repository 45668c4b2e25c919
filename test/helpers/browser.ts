/**
 * Real-browser fixtures for the web console: Debian's Chromium driven by playwright-core (no browser download), a
 * hoist API server listening on a random loopback port, and a fresh context (cookies) per person. Under `npm test`
 * one Chromium serves every web test file (scripts/test-global-setup.mjs launches it and sets
 * HOIST_TEST_BROWSER_WS; each file connects, and its contexts are closed when it disconnects); a file run alone
 * launches its own. Screenshots go to test-output/screens/ (git-ignored) so a reviewer can look at every screen.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_PASSWORD, startApi, type TestApi } from './api.ts';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.ts';

export { CHROMIUM } from './chromium.ts';
const SCREENS = join(process.cwd(), 'test-output', 'screens');

/**
 * The browser of this test file: npm test's shared Chromium when there is one (launching one per file cost each web
 * file about 0.7 s of CPU and 2–7 s of its time), else one of its own. `close()` on a connected browser closes this
 * file's contexts and disconnects; the shared browser goes on serving the other files.
 */
export async function launchBrowser(): Promise<Browser> {
  const shared = process.env.HOIST_TEST_BROWSER_WS;
  if (shared !== undefined) return chromium.connect(shared);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface ConsoleServer {
  api: TestApi;
  url: string;
  close(): Promise<void>;
}

/** hoist's API and console on the embedded database, listening on 127.0.0.1:random. */
export async function startConsole(): Promise<ConsoleServer> {
  const api = await startApi('pglite');
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const address = api.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { api, url: `http://127.0.0.1:${address.port}`, close: () => api.close() };
}

/** A signed-in page for `username` (password `<username>-password`, or the admin's) in a context of its own. */
export async function signedIn(browser: Browser, server: ConsoleServer, username: string, path = '/'): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}${path}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(username === 'admin' ? ADMIN_PASSWORD : `${username}-password`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: join(SCREENS, `${name}.png`), fullPage: true });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/** axe-core's WCAG 2 A/AA violations on the page as it is now (evaluated through the driver, not a page script). */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(o: unknown): Promise<{ violations: unknown[] }> } }).axe;
    const r = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations;
  });
  return (violations as AxeViolation[]).map(
    (v) => `${v.id} (${v.impact ?? '?'}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
}

export async function closeContext(context: BrowserContext): Promise<void> {
  await context.close().catch(() => undefined);
}
