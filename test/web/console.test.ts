/**
 * The web console in a real Chromium against a real hoist server: signing in (errors shown, back to the deep link
 * one came from), a second tab that can act, signing out, how the console is served (CSP without inline script,
 * immutable assets, deep links that never shadow the API), and axe-core's WCAG A/AA check on every screen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  accessibilityViolations,
  launchBrowser,
  screenshot,
  signedIn,
  startConsole,
  type ConsoleServer,
} from '../helpers/browser.ts';
import { caller } from '../helpers/api.ts';

describe('web console', () => {
  let browser: Browser;
  let server: ConsoleServer;

  before(async () => {
    server = await startConsole();
    browser = await launchBrowser();
    const admin = caller(server.api.app, await server.api.tokenFor('admin', { admin: true }));
    assert.equal((await admin('POST', '/api/v1/projects', { name: 'shop', description: 'the demo shop' })).status, 201);
    assert.equal((await admin('POST', '/api/v1/projects/shop/applications', { name: 'web' })).status, 201);
    await server.api.tokenFor('vera');
    assert.equal(
      (await admin('POST', '/api/v1/projects/shop/members', { username: 'vera', role: 'viewer' })).status,
      201,
    );
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('a deep link asks to sign in, shows a wrong password, then lands where it pointed', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/projects/shop`);
    await page.waitForURL(/\/sign-in\?next=%2Fprojects%2Fshop$/);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'sign-in');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /password|username/i);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'shop' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/projects/shop');
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'project');
    await context.close();
  });

  test('a sign-in link pointing off-site returns to the console instead', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/sign-in?next=${encodeURIComponent('//evil.example/x')}`);
    await page.getByLabel('Username').fill('vera');
    await page.getByLabel('Password').fill('vera-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    assert.equal(new URL(page.url()).origin, server.url);
    await context.close();
  });

  test('the projects list, a second tab of the same session, and signing out', async () => {
    const page = await signedIn(browser, server, 'vera', '/projects');
    await page.getByRole('link', { name: 'shop' }).waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'projects');
    const second = await page.context().newPage();
    await second.goto(`${server.url}/projects`);
    await second.getByRole('link', { name: 'shop' }).waitFor();
    await second.getByRole('button', { name: 'Sign out' }).click();
    await second.getByRole('button', { name: 'Sign in' }).waitFor();
    // The first tab's session is gone too: its next request is a 401, which sends it to the sign-in page.
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.context().close();
  });

  test('the project settings page and the not-found page pass axe-core too', async () => {
    const page = await signedIn(browser, server, 'admin', '/projects/shop/settings');
    await page.getByRole('heading', { name: 'Applications' }).waitFor();
    await page.getByText('web').first().waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'project-settings');
    await page.goto(`${server.url}/no/such/page`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await page.context().close();
  });

  test('the console is served with a strict CSP and never shadows the API', async () => {
    const html = await fetch(`${server.url}/projects/shop`, { headers: { accept: 'text/html' } });
    assert.equal(html.status, 200);
    const csp = html.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.equal(html.headers.get('cache-control'), 'no-cache');
    const etag = html.headers.get('etag');
    assert.ok(etag, 'index.html has an ETag');
    const again = await fetch(`${server.url}/`, { headers: { accept: 'text/html', 'if-none-match': etag } });
    assert.equal(again.status, 304, 'a page the browser has costs a 304');
    const body = await html.text();
    assert.doesNotMatch(body, /<script>(?!<\/script>)/, 'no inline script');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(body)?.[1];
    assert.ok(asset, 'index.html loads a hashed script from /assets/');
    const js = await fetch(`${server.url}${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    // The app's and the board's chunks are preloaded beside the entry; each sent compressed (at build time) to a
    // browser that accepts it, as is to one that does not, and a cache keeps the two apart.
    const preloads = [...body.matchAll(/rel="modulepreload"[^>]* href="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
    assert.ok(preloads.length >= 2, 'index.html preloads the app and the board');
    for (const [encoding, expected] of [
      ['br', 'br'],
      ['gzip', 'gzip'],
      ['identity', null],
    ] as const) {
      const r = await fetch(`${server.url}${preloads[0]}`, { headers: { 'accept-encoding': encoding } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-encoding'), expected, encoding);
      assert.match(r.headers.get('content-type') ?? '', /javascript/);
      assert.match(r.headers.get('vary') ?? '', /accept-encoding/i);
      assert.match(r.headers.get('cache-control') ?? '', /immutable/);
      assert.match(await r.text(), /import|export/, 'the script itself, decoded');
    }
    const api404 = await fetch(`${server.url}/api/v1/nothing-here`, { headers: { accept: 'text/html' } });
    assert.equal(api404.status, 404);
    assert.equal(((await api404.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    for (const path of ['/healthz', '/readyz']) {
      const r = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
      assert.match(r.headers.get('content-type') ?? '', /json/, path);
    }
    const missingAsset = await fetch(`${server.url}/assets/nope.js`);
    assert.equal(missingAsset.status, 404);
    const missingForBrowser = await fetch(`${server.url}/assets/nope.js`, { headers: { accept: 'text/html' } });
    assert.equal(missingForBrowser.status, 404, 'a missing asset is never the deep-link page');
  });
});
