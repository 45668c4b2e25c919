/**
 * The automation and administration screens in a real Chromium against a real hoist server and registry: an owner
 * dry-runs a rule (the compiled CEL, which artifacts match and the tag each would get) and creates it, adds a
 * promotion window; the lists of bindings, quarantine, push events and watches show what was seeded; an admin tests
 * registry connections (the registry's own message, and a refused one), creates a user, grants an
 * environment-limited role and adds a webhook; a viewer sees every action disabled with the role it needs. axe-core
 * finds no WCAG A/AA violation; screenshots go to test-output/screens/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
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

const GENERIC = 'generic-hook-secret-0123456789';

describe('automation and administration screens', () => {
  let browser: Browser;
  let server: ConsoleServer;
  let reg: TestRegistry;
  let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
  let image: TestManifest;
  const P = '/api/v1/projects/shop';
  const ok = async (r: ReturnType<Call>) => {
    const x = await r;
    assert.ok(x.status < 300, JSON.stringify(x.body));
    return x.body as Record<string, unknown>;
  };

  before(async () => {
    reg = await startRegistry();
    image = buildImage({ layers: [700] });
    await pushImage(reg.url, 'dev/web', image, { tag: 'v1.0' });
    const bad = buildImage({ layers: [710] });
    await pushImage(reg.url, 'dev/web', bad, { tag: 'v0.9' });
    server = await startConsole();
    browser = await launchBrowser();
    const tokens: Record<string, string> = { root: await server.api.tokenFor('root', { admin: true }) };
    for (const u of ['olga', 'vera']) tokens[u] = await server.api.tokenFor(u);
    as = (who, ...rest) => caller(server.api.app, tokens[who] ?? '')(...rest);
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
    await ok(as('root', 'PUT', '/api/v1/registries/local/hooks/generic', { secret: GENERIC }));
    await ok(as('root', 'POST', '/api/v1/projects', { name: 'shop' }));
    await ok(as('root', 'POST', `${P}/applications`, { name: 'web' }));
    for (const env of ['dev', 'staging']) {
      await ok(as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: env }));
      await ok(
        as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        }),
      );
    }
    await ok(as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] }));
    await ok(as('root', 'POST', `${P}/members`, { username: 'olga', role: 'owner', environments: null }));
    await ok(as('root', 'POST', `${P}/members`, { username: 'vera', role: 'viewer', environments: null }));
    await ok(as('olga', 'POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:v1.0` }));
    await ok(as('olga', 'POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:v0.9` }));
    await ok(as('olga', 'PUT', `${P}/applications/web/bindings/staging`, { mode: 'track-latest' }));
    await ok(as('root', 'POST', '/api/v1/quarantine', { digest: bad.digest, reason: 'built from a poisoned cache' }));
    await ok(as('root', 'POST', '/api/v1/watches', { repository: 'local/dev/web', intervalSeconds: 3600 }));
    const hook = await fetch(`${server.url}/api/v1/hooks/generic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GENERIC}` },
      body: JSON.stringify({ id: 'push-1', repository: 'dev/web', tag: 'v1.0', digest: image.digest }),
    });
    assert.ok(hook.status < 300, await hook.text());
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await reg?.stop();
  });

  test('an owner dry-runs a rule (CEL, matches, the tag each would get), creates it and adds a window', async () => {
    const page = await signedIn(browser, server, 'olga', '/projects/shop/automation');
    const form = page.getByRole('form', { name: 'New rule' });
    await form.getByLabel('Name').fill('releases');
    await form.getByLabel('From').selectOption('dev');
    await form.getByLabel('To').selectOption('staging');
    await form.getByLabel('Tag value').fill('v1');
    await form.getByLabel(/Tag template/).fill('{tag}-{env}');
    await form.getByRole('button', { name: 'Dry-run' }).click();
    const result = page.getByRole('region', { name: 'Dry-run result' });
    await result.getByText(/Compiles to/).waitFor();
    assert.match(await result.innerText(), /image\.tag\.startsWith\("v1"\)/);
    const row = result.getByRole('row', { name: /v1\.0/ });
    assert.match(await row.innerText(), /✔ matches\s+:v1\.0-staging/);
    assert.match(await result.getByRole('row', { name: /v0\.9/ }).innerText(), /✖ no match/);
    await form.getByRole('button', { name: 'Create rule' }).click();
    await page.getByText('Rule releases created.').waitFor();
    const rules = page.getByRole('region', { name: 'Rules' });
    await rules.getByRole('row', { name: /^releases/ }).waitFor();
    assert.match(await rules.getByRole('row', { name: /^releases/ }).innerText(), /\{tag\}-\{env\}/);

    await page.getByRole('button', { name: 'Add a window to staging' }).click();
    await page.getByRole('form', { name: 'New window for staging' }).getByLabel('Time zone').fill('Europe/Berlin');
    await page.getByRole('button', { name: 'Save window' }).click();
    await page.getByText('mon, tue, wed, thu, fri 09:00–17:00 (Europe/Berlin)').waitFor();

    const text = await page.locator('main').innerText();
    assert.match(text, /web → staging\s+⟳?\s*tracks the latest good build/);
    assert.match(text, /built from a poisoned cache/);
    assert.match(text, /dev\/web:v1\.0/, 'the push event');
    assert.match(text, /local\/dev\/web|dev\/web\s+every 3600 s/, 'the watch');
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'automation');
    await page.context().close();
  });

  test('a viewer sees the automation actions disabled with the role needed', async () => {
    const page = await signedIn(browser, server, 'vera', '/projects/shop/automation');
    await page.getByRole('row', { name: /^releases/ }).waitFor();
    for (const [name, needs] of [
      ['Dry-run', 'the owner role in shop'],
      ['Create rule', 'the owner role for staging in shop'],
      ['Delete rule releases', 'the owner role for staging in shop'],
      ['Add a window to staging', 'the owner role for staging in shop'],
      ['Lift', 'the admin role'],
    ]) {
      const button = page.getByRole('button', { name, exact: true });
      assert.equal(await button.isDisabled(), true, name);
      assert.match(await page.locator('.gated', { has: button }).innerText(), new RegExp(`needs ${needs}`), name);
    }
    await page.context().close();
  });

  test("an admin tests registries (the registry's own message), creates a user, grants a limited role, adds a webhook", async () => {
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'gone', url: 'http://127.0.0.1:9' }));
    const page = await signedIn(browser, server, 'admin', '/admin');
    await page.getByRole('button', { name: 'Test connection to local' }).click();
    const local = page.getByRole('row', { name: /^local/ });
    await local.getByText(/The registry says/).waitFor();
    assert.match(await local.innerText(), /✔ reachable/);
    await page.getByRole('button', { name: 'Test connection to gone' }).click();
    const gone = page.getByRole('row', { name: /^gone/ });
    await gone
      .getByText(/unreachable|Could not/)
      .first()
      .waitFor();
    assert.match(await gone.innerText(), /(unreachable|Could not).*\S/s);
    const users = page.getByRole('form', { name: 'New user' });
    await users.getByLabel('Username').fill('nina');
    await users.getByLabel('Password').fill('nina-password-long');
    await users.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('row', { name: /^nina/ }).waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'admin');

    await page.goto(`${server.url}/projects/shop/access`);
    const grant = page.getByRole('form', { name: 'Grant a role' });
    await grant.getByLabel('Username').fill('nina');
    await grant.getByLabel('Role').selectOption('promoter');
    await grant.getByRole('checkbox', { name: 'staging' }).check();
    await grant.getByRole('button', { name: 'Grant role' }).click();
    const nina = page.getByRole('row', { name: /^nina/ });
    await nina.waitFor();
    assert.match(await nina.innerText(), /promoter\s+only staging/);
    const hooks = page.getByRole('form', { name: 'New webhook' });
    await hooks.getByLabel('URL').fill('http://127.0.0.1:9/hook');
    await hooks.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByRole('article', { name: 'Webhook http://127.0.0.1:9/hook' }).waitFor();
    await page.getByText(/No deliveries yet/).waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'access');
    await page.context().close();
  });

  test('a viewer sees administration actions disabled with the role needed', async () => {
    const page = await signedIn(browser, server, 'vera', '/admin');
    const test = page.getByRole('button', { name: 'Test connection to local' });
    await test.waitFor();
    assert.equal(await test.isDisabled(), true);
    assert.match(await page.locator('.gated', { has: test }).innerText(), /needs the admin role/);
    assert.equal(await page.getByRole('button', { name: 'Add registry' }).isDisabled(), true);
    await page.goto(`${server.url}/projects/shop/access`);
    const grant = page.getByRole('button', { name: 'Grant role' });
    await grant.waitFor();
    assert.equal(await grant.isDisabled(), true);
    assert.match(await page.locator('.gated', { has: grant }).innerText(), /needs the owner role in shop/);
    await page.getByText(/Webhooks and their deliveries are shown to owners of shop/).waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await page.context().close();
  });

  test("bindings and the quarantine list change on another person's open page without a reload", async () => {
    const vera = await signedIn(browser, server, 'vera', '/projects/shop/automation');
    await vera.getByRole('rowheader', { name: 'web → staging' }).waitFor();
    await vera.getByText('built from a poisoned cache').waitFor();
    for (let i = 0; i < 100 && server.api.services.live.count() < 1; i++) await vera.waitForTimeout(100);
    assert.equal(server.api.services.live.count(), 1, "vera's page holds the event stream open");
    let navigations = 0;
    vera.on('framenavigated', (frame) => {
      if (frame === vera.mainFrame()) navigations++;
    });

    // olga, in her own browser context, sends web in staging back to manual promotions.
    const olga = await signedIn(browser, server, 'olga', '/projects/shop/automation');
    await olga.getByRole('button', { name: 'Back to manual promotions for web in staging' }).click();
    await vera.getByText(/No bindings: environments change only by promotion/).waitFor({ timeout: 10_000 });
    // And tracks the latest build again, through the API this time.
    await ok(as('olga', 'PUT', `${P}/applications/web/bindings/staging`, { mode: 'track-latest' }));
    await vera.getByRole('rowheader', { name: 'web → staging' }).waitFor({ timeout: 10_000 });

    // An admin lifts the quarantine; vera (not an admin, a viewer of the project) sees the list empty.
    const quarantined = (await ok(as('root', 'GET', '/api/v1/quarantine'))).items as Array<{ digest: string }>;
    for (const q of quarantined) await ok(as('root', 'DELETE', `/api/v1/quarantine/${q.digest}`));
    await vera.getByText(/Nothing is quarantined/).waitFor({ timeout: 10_000 });
    assert.equal(navigations, 0, 'the page was not reloaded');
    await olga.context().close();
    await vera.context().close();
  });
});
