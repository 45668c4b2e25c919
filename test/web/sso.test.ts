/**
 * Single sign-on in a real Chromium against a real OpenID provider (oidc-provider on loopback): a deep link asks to
 * sign in, the sign-in page offers "Sign in with <provider>", the person signs in and consents at the provider and
 * lands on the deep link with the role their group gives; a cancelled sign-in comes back to the sign-in page with
 * the provider's reason; without SSO configured, only the password form shows. An admin views, changes, turns off and
 * turns on single sign-on in the Administration screen (a non-admin sees only who to ask).
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
import { startOpenIdProvider, type OpenIdProvider } from '../harness/openid-provider.ts';

describe('single sign-on in the browser', () => {
  let browser: Browser;
  let server: ConsoleServer;
  let op: OpenIdProvider;
  let admin: Call;

  before(async () => {
    server = await startConsole();
    op = await startOpenIdProvider({ redirectUris: [`${server.url}/api/v1/sso/callback`] });
    op.accounts.set('rita-sub', { preferred_username: 'rita', groups: ['release-managers'] });
    browser = await launchBrowser();
    admin = caller(server.api.app, await server.api.tokenFor('admin', { admin: true }));
    assert.equal((await admin('POST', '/api/v1/projects', { name: 'shop', description: 'the demo shop' })).status, 201);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await op?.stop();
  });

  const atProvider = async (page: Page) => {
    await page.waitForURL((url) => url.href.startsWith(op.issuer));
    await page.locator('input[name="login"]').fill('rita-sub');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
  };

  test('without SSO configured the sign-in page offers only the password form', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/sign-in`);
    await page.getByLabel('Username').waitFor();
    assert.equal(await page.getByRole('link', { name: /Sign in with/ }).count(), 0);
    await context.close();
  });

  test('"Sign in with Test IdP" from a deep link: sign in and consent at the provider, land on the deep link', async () => {
    const put = await admin('PUT', '/api/v1/sso', {
      issuer: op.issuer,
      clientId: op.clientId,
      clientSecret: op.clientSecret,
      displayName: 'Test IdP',
      scopes: ['openid', 'profile', 'groups'],
      groupRoles: ['release-managers:shop:promoter'],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/projects/shop/history?state=PROMOTED`);
    await page.waitForURL(/\/sign-in\?next=/);
    const sso = page.getByRole('link', { name: 'Sign in with Test IdP' });
    await sso.waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'sign-in-sso');
    await sso.click();
    await atProvider(page);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/projects/shop/history');
    assert.equal(new URL(page.url()).search, '?state=PROMOTED');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
    assert.equal((me as { username: string }).username, 'rita');
    assert.deepEqual((me as { memberships: unknown }).memberships, [
      { project: 'shop', role: 'promoter', environments: null },
    ]);
    await context.close();
  });

  test('a cancelled sign-in returns to the sign-in page with the provider’s reason', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/approvals`);
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL((url) => url.href.startsWith(op.issuer));
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/sign-in');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Test IdP refused the sign-in: access_denied/);
    assert.equal(new URL(page.url()).searchParams.get('next'), '/approvals');
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'sign-in-sso-refused');
    await context.close();
  });

  test('an admin views, changes, turns off and turns on single sign-on in the console; others cannot', async () => {
    const signInLink = async (name: string) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${server.url}/sign-in`);
      await page.getByLabel('Username').waitFor();
      await page.getByRole('link', { name: `Sign in with ${name}` }).waitFor();
      await context.close();
    };
    const page = await signedIn(browser, server, 'admin', '/admin');
    const section = page.getByRole('region', { name: 'Single sign-on (OpenID Connect)' });
    await section.getByText(/a client secret is stored/).waitFor();
    assert.match(await section.innerText(), /release-managers:shop:promoter/);
    assert.doesNotMatch(await page.content(), new RegExp(op.clientSecret), 'the secret is never shown');
    assert.equal(await section.getByLabel('Issuer URL').inputValue(), op.issuer);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'admin-sso');

    // Rename it, secret left blank: the stored one is kept.
    await section.getByLabel('Name on the sign-in page').fill('Console IdP');
    await section.getByRole('button', { name: 'Save single sign-on' }).click();
    await section
      .getByRole('status')
      .getByText(/Saved: "Sign in with Console IdP"/)
      .waitFor();
    const kept = await admin('GET', '/api/v1/sso');
    assert.equal(kept.body.displayName, 'Console IdP');
    assert.equal(kept.body.hasSecret, true);
    assert.equal(kept.body.updatedBy, 'admin');
    await signInLink('Console IdP');

    // A mistake is shown as the server says it, and nothing changes.
    await section.getByLabel('Scopes (space-separated)').fill('profile');
    await section.getByRole('button', { name: 'Save single sign-on' }).click();
    await section
      .getByRole('alert')
      .getByText(/openid/)
      .waitFor();
    assert.deepEqual((await admin('GET', '/api/v1/sso')).body.scopes, ['openid', 'profile', 'groups']);

    // Off, asked twice.
    await section.getByRole('button', { name: 'Turn single sign-on off…' }).click();
    await section.getByRole('button', { name: 'Yes, turn single sign-on off' }).click();
    await section
      .getByText(/Single sign-on is off: people sign in with a hoist username and password\. Fill/)
      .waitFor();
    assert.equal((await admin('GET', '/api/v1/sso')).status, 404);

    // And on again from nothing, through the form alone.
    await section.getByLabel('Issuer URL').fill(op.issuer);
    await section.getByLabel('Client ID').fill(op.clientId);
    await section.getByLabel('Client secret').fill(op.clientSecret);
    await section.getByLabel('Name on the sign-in page').fill('Test IdP');
    await section.getByLabel('Scopes (space-separated)').fill('openid profile groups');
    await section.getByLabel('Group roles, one per line').fill('release-managers:shop:promoter\nops:*:admin');
    await section.getByRole('button', { name: 'Turn on single sign-on' }).click();
    await section.getByRole('status').getByText(/Saved/).waitFor();
    const on = await admin('GET', '/api/v1/sso');
    assert.equal(on.status, 200);
    assert.equal(on.body.hasSecret, true);
    assert.deepEqual(on.body.groupRoles, ['release-managers:shop:promoter', 'ops:*:admin']);
    await signInLink('Test IdP');
    assert.deepEqual(await accessibilityViolations(page), []);
    await page.context().close();

    // Someone who is not an admin sees who sets it up, and no form.
    await server.api.tokenFor('vera');
    const vera = await signedIn(browser, server, 'vera', '/admin');
    await vera.getByText('Single sign-on (OpenID Connect) is set up by admins.').waitFor();
    assert.equal(await vera.getByRole('form', { name: 'Single sign-on settings' }).count(), 0);
    await vera.context().close();
  });
});
