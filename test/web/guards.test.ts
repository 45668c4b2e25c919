/**
 * What the console does when the answer is no, in a real Chromium against a real hoist server: a deep link to another
 * project's request by someone who is not a member shows nothing of it and says what to do (asked once: a 4xx is
 * never retried), a request that does not exist likewise, a session that ends while a page is open sends that page to
 * the sign-in page at once (no reload, back where it was after signing in), a viewer typing a hostile regular
 * expression or a very long string into the history filters (or a hand-edited date in its URL) gets a message that
 * says what to do and a page that keeps working, and /metrics, /healthz and /readyz are never the console's page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { caller, type Call } from '../helpers/api.ts';
import {
  accessibilityViolations,
  launchBrowser,
  screenshot,
  signedIn,
  startConsole,
  type ConsoleServer,
} from '../helpers/browser.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage, type TestManifest } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

/** The URLs of the page's requests whose path contains `part`, from now on. */
function requestsTo(page: Page, part: string): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.includes(part)) seen.push(r.url());
  });
  return seen;
}

describe('the console when the answer is no', () => {
  let browser: Browser;
  let server: ConsoleServer;
  let reg: TestRegistry;
  let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
  let vault: TestManifest;
  let bankRequest: string;

  before(async () => {
    reg = await startRegistry();
    vault = buildImage({ layers: [800] });
    await pushImage(reg.url, 'bank-dev/vault', vault, { tag: '9.9' });
    server = await startConsole();
    browser = await launchBrowser();
    const tokens: Record<string, string> = { root: await server.api.tokenFor('root', { admin: true }) };
    tokens.vera = await server.api.tokenFor('vera');
    as = (who, ...rest) => caller(server.api.app, tokens[who] ?? '')(...rest);
    const ok = async (r: ReturnType<Call>) => {
      const x = await r;
      assert.ok(x.status < 300, JSON.stringify(x.body));
      return x.body as { id: string };
    };
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
    await ok(as('root', 'POST', '/api/v1/projects', { name: 'shop' }));
    await ok(
      as('root', 'POST', '/api/v1/projects/shop/members', { username: 'vera', role: 'viewer', environments: null }),
    );
    const B = '/api/v1/projects/bank';
    await ok(as('root', 'POST', '/api/v1/projects', { name: 'bank' }));
    await ok(as('root', 'POST', `${B}/applications`, { name: 'vault' }));
    for (const env of ['bank-dev', 'bank-prod']) {
      await ok(as('root', 'PUT', `${B}/namespaces`, { registry: 'local', prefix: env }));
      await ok(
        as('root', 'PUT', `${B}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        }),
      );
    }
    await ok(as('root', 'PUT', `${B}/pipeline`, { edges: [{ from: 'bank-dev', to: 'bank-prod' }] }));
    await ok(as('root', 'POST', `${B}/applications/vault/artifacts`, { reference: `${reg.host}/bank-dev/vault:9.9` }));
    bankRequest = (
      await ok(
        as('root', 'POST', `${B}/applications/vault/promotions`, {
          tag: '9.9',
          from: 'bank-dev',
          to: ['bank-prod'],
          comment: 'secret rollout',
        }),
      )
    ).id;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await reg?.stop();
  });

  test("a non-member's deep link to another project's request shows nothing of it, says what to do, and is asked once", async () => {
    const page = await signedIn(browser, server, 'vera', '/projects/shop');
    const asked = requestsTo(page, `/promotions/${bankRequest}`);
    await page.goto(`${server.url}/projects/bank/promotions/${bankRequest}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(
      await alert.innerText(),
      /Could not load the promotion: .+\. (Ask an owner of the project|Check the link)/,
    );
    await page.waitForTimeout(1500); // time for any retry to show
    assert.equal(asked.filter((u) => u.includes('/api/')).length, 1, `a 4xx is not retried: ${asked.join(' ')}`);
    const html = await page.content();
    for (const secret of [vault.digest, 'secret rollout', 'bank-prod', 'vault'])
      assert.ok(!html.includes(secret), `the page shows nothing of the request (${secret})`);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'promotion-not-a-member');

    // A request that does not exist at all: the same, once.
    const missing = requestsTo(page, '/promotions/01NOSUCHREQUEST');
    await page.goto(`${server.url}/projects/shop/promotions/01NOSUCHREQUEST`);
    await page.getByRole('alert').waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    assert.match(
      await page.getByRole('alert').innerText(),
      /Check the link, or start again from the projects page|Correct it/,
    );
    await page.waitForTimeout(1500);
    assert.equal(missing.filter((u) => u.includes('/api/')).length, 1, missing.join(' '));
    await page.context().close();
  });

  test('a session that ends while a page is open sends it to the sign-in page at once, and back after signing in', async () => {
    const page = await signedIn(browser, server, 'vera', '/projects/shop');
    await page.getByRole('heading', { name: 'shop: environments' }).waitFor();
    await page.evaluate(() => ((globalThis as unknown as { stillHere: boolean }).stillHere = true));
    const history = requestsTo(page, '/api/v1/projects/shop/history');
    // Signed out in another tab of the same browser: the cookie is gone.
    const other = await page.context().newPage();
    await other.goto(`${server.url}/projects`);
    await other.getByRole('button', { name: 'Sign out' }).click();
    await other.getByRole('button', { name: 'Sign in' }).waitFor();
    // The first tab moves on inside the app; its next request is a 401.
    await page.getByRole('link', { name: 'History' }).click();
    await page.waitForURL(/\/sign-in\?next=%2Fprojects%2Fshop%2Fhistory$/);
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { stillHere?: boolean }).stillHere),
      true,
      'no reload: the app itself went to the sign-in page',
    );
    assert.equal(history.length, 1, `the 401 was not retried: ${history.join(' ')}`);
    await page.getByLabel('Username').fill('vera');
    await page.getByLabel('Password').fill('vera-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'History of shop' }).waitFor();
    await page.context().close();
  });

  test('a viewer types a hostile regular expression and a very long string into the history filters; the page says what to do and keeps working', async () => {
    const page = await signedIn(browser, server, 'vera', '/projects/shop/history');
    await page.getByText(/No finished promotion matches these filters/).waitFor();
    await page.getByLabel('application').fill('(a+)+$');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/app=%28a%2B%29%2B%24/);
    // Taken literally (an application name, not a pattern): nothing matches, and the page says what to do.
    await page.getByText(/No finished promotion matches these filters\. Widen them/).waitFor();
    assert.equal(await page.getByLabel('application').inputValue(), '(a+)+$');
    assert.equal(await page.getByRole('alert').count(), 0);
    assert.deepEqual(await accessibilityViolations(page), []);

    await page.getByLabel('application').fill('');
    await page.getByLabel('user').fill('x'.repeat(20_000));
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('alert').waitFor();
    await screenshot(page, 'history-hostile-filter');
    assert.match(
      await page.getByRole('alert').innerText(),
      /Could not load the history \(check the filters\): .+ (Correct it|Shorten)/,
    );

    await page.getByLabel('user').fill('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText(/No finished promotion matches these filters/).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, 'working again once the filters are sane');

    // Dates edited by hand in the URL: ignored, not a broken page.
    await page.goto(`${server.url}/projects/shop/history?since=yesterday&until=2026-13-45&state=<script>`);
    await page.getByText(/No finished promotion matches these filters/).waitFor();
    assert.equal(await page.getByLabel(/since/).inputValue(), '');
    await page.context().close();
  });

  test('/metrics, /healthz and /readyz are never the console page, even for a browser', async () => {
    for (const path of ['/metrics', '/healthz', '/readyz', '/api', '/api/v1']) {
      const r = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
      const body = await r.text();
      assert.doesNotMatch(body, /<div id="root">|<!doctype html>/i, `${path} is not the console`);
      if (path === '/metrics') {
        assert.equal(r.status, 200);
        assert.match(body, /^# (HELP|TYPE) /m, 'Prometheus text');
      }
    }
    const deep = await fetch(`${server.url}/projects/shop/promotions/x`, { headers: { accept: 'text/html' } });
    assert.match(await deep.text(), /<div id="root">/, 'a deep link is the console');
  });

  // Last: the sign-in limit counts attempts per address, and every page here signs in from 127.0.0.1.
  test('too many wrong passwords: the sign-in page shows the rate-limit message', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/sign-in`);
    const alert = page.getByRole('alert');
    for (let i = 0; i < 8 && !/too many/i.test((await alert.count()) > 0 ? await alert.innerText() : ''); i++) {
      await page.getByLabel('Username').fill('mallory');
      await page.getByLabel('Password').fill(`guess-${i}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await alert.waitFor();
      await page.getByRole('button', { name: 'Sign in' }).and(page.locator(':enabled')).waitFor();
    }
    assert.match(await alert.innerText(), /too many failed logins; wait before trying again/);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'sign-in-rate-limited');
    await context.close();
  });
});
