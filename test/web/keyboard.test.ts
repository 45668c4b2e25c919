/**
 * The console by keyboard alone, in a real Chromium: signing in, promoting through the dialog (focus moves into it,
 * Tab cycles inside it and never leaves for the page behind, Esc closes it and focus returns to the button that
 * opened it, Enter sends), and approving from the inbox. Nothing here clicks: every step is a key press, and every
 * control the keyboard reaches shows a visible focus outline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { caller, ADMIN_PASSWORD, type Call } from '../helpers/api.ts';
import {
  accessibilityViolations,
  launchBrowser,
  screenshot,
  startConsole,
  type ConsoleServer,
} from '../helpers/browser.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

interface Focused {
  name: string;
  tag: string;
  inDialog: boolean;
  outlined: boolean;
}

/**
 * What has the keyboard focus: its accessible name (roughly: aria-label, else its label, else its text), whether it
 * is inside a dialog, and whether a focus outline shows. Page code, as a string (the tests compile without the DOM).
 */
const FOCUSED = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return { name: '', tag: 'body', inDialog: false, outlined: false };
  const label = el.labels && el.labels[0] ? el.labels[0].textContent : '';
  const name = (el.getAttribute('aria-label') || label || el.textContent || '').replace(/\\s+/g, ' ').trim();
  const style = getComputedStyle(el);
  const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  return { name, tag: el.tagName.toLowerCase(), inDialog: el.closest('dialog') !== null, outlined };
})()`;

function focused(page: Page): Promise<Focused> {
  return page.evaluate(FOCUSED) as Promise<Focused>;
}

/** Waits (up to 2 s) until the control named `name` has the focus: the dialog hands it back once it has closed. */
async function focusReturnsTo(page: Page, name: string): Promise<void> {
  let now = await focused(page);
  for (let i = 0; i < 40 && now.name !== name; i++) {
    await page.waitForTimeout(50);
    now = await focused(page);
  }
  assert.equal(now.name, name);
}

/** Presses Tab until the focused control's name matches; fails after `max` presses. */
async function tabTo(page: Page, name: RegExp, max = 80): Promise<Focused> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    if (name.test(now.name)) return now;
  }
  throw new Error(`Tab never reached ${name}`);
}

async function signInByKeyboard(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').waitFor();
  assert.equal((await focused(page)).name, 'Username', 'the username field has the focus when the page opens');
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  assert.equal((await focused(page)).name, 'Password');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

describe('the console by keyboard only', () => {
  let browser: Browser;
  let server: ConsoleServer;
  let reg: TestRegistry;
  let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
  const P = '/api/v1/projects/shop';

  before(async () => {
    reg = await startRegistry();
    await pushImage(reg.url, 'dev/web', buildImage({ layers: [1000] }), { tag: '1.0' });
    server = await startConsole();
    browser = await launchBrowser();
    const tokens: Record<string, string> = { root: await server.api.tokenFor('root', { admin: true }) };
    for (const u of ['devon', 'rita']) tokens[u] = await server.api.tokenFor(u);
    as = (who, ...rest) => caller(server.api.app, tokens[who] ?? '')(...rest);
    const ok = async (r: ReturnType<Call>) => {
      const x = await r;
      assert.ok(x.status < 300, JSON.stringify(x.body));
    };
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
    await ok(as('root', 'POST', '/api/v1/projects', { name: 'shop' }));
    await ok(as('root', 'POST', `${P}/applications`, { name: 'web' }));
    for (const prefix of ['dev', 'qa', 'prod'])
      await ok(as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix }));
    for (const env of ['dev', 'qa', 'prod'])
      await ok(
        as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        }),
      );
    await ok(as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'prod' }] }));
    await ok(as('root', 'POST', `${P}/members`, { username: 'devon', role: 'developer', environments: null }));
    await ok(as('root', 'POST', `${P}/members`, { username: 'rita', role: 'promoter', environments: null }));
    await ok(as('root', 'POST', '/api/v1/policies', { name: 'prod-gate', approverCount: 1 }));
    await ok(
      as('root', 'POST', '/api/v1/policies/prod-gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
      }),
    );
    await ok(as('devon', 'POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:1.0` }));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await reg?.stop();
  });

  test('sign in, skip to the content, and promote through the dialog without a mouse', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/projects/shop`);
    await signInByKeyboard(page, 'devon', 'devon-password');
    await page.getByRole('heading', { name: 'shop: environments' }).waitFor();
    await page.locator('[data-cell="web/dev"]').getByRole('button', { name: 'Promote web from dev…' }).waitFor();

    // The first Tab offers to skip the navigation; taking it puts the next Tab in the page's own content.
    await page.keyboard.press('Tab');
    const skip = await focused(page);
    assert.equal(skip.name, 'Skip to main content');
    assert.ok(skip.outlined, 'the skip link shows its focus');
    assert.ok(((await page.getByRole('link', { name: 'Skip to main content' }).boundingBox())?.y ?? -1) >= 0);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    assert.equal((await focused(page)).name, 'History', 'after the skip link, Tab lands in the main content');

    const opener = await tabTo(page, /^Promote web from dev…$/);
    assert.ok(opener.outlined, 'the promote button shows its focus');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Promote web' });
    await dialog.waitFor();
    assert.ok((await focused(page)).inDialog, 'opening the dialog moves the focus into it');

    // Tab goes round the dialog's controls in order and comes back to the first; it never reaches the page behind.
    const order: Focused[] = [await focused(page)];
    // Round once, until the first control has the focus again.
    for (let i = 0; i < 12 && (order.length === 1 || order.at(-1)?.name !== order[0]?.name); i++) {
      await page.keyboard.press('Tab');
      order.push(await focused(page));
    }
    assert.ok(
      order.every((f) => f.inDialog),
      JSON.stringify(order),
    );
    assert.ok(
      order.every((f) => f.outlined),
      `every control shows its focus: ${JSON.stringify(order)}`,
    );
    const names = order.map((f) => f.name);
    const cycle = names.slice(0, names.indexOf('Cancel') + 1);
    assert.ok(cycle.length >= 4, names.join(' | '));
    // The digest's copy button first, then the source, the targets, the comment and the two buttons.
    const at = (name: RegExp) => cycle.findIndex((n) => name.test(n));
    assert.match(cycle[0] ?? '', /^Copy digest sha256:/);
    assert.ok(at(/^From/) > 0 && at(/^From/) < at(/^prod$/) && at(/^prod$/) < at(/^Comment$/), names.join(' | '));
    assert.deepEqual(cycle.slice(-3), ['Comment', 'Request promotion', 'Cancel']);
    assert.equal(names[cycle.length], cycle[0], 'after the last control, Tab goes back to the first');
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused(page)).name, 'Cancel', 'Shift+Tab from the first control goes to the last');

    // Esc closes it and the focus goes back to the button that opened it.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await focusReturnsTo(page, 'Promote web from dev…');

    // Again, and this time send it: the one edge (prod) is chosen, the preview says who may approve, Enter sends.
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await dialog.getByText(/needs 1 more approval \(0\/1\) from rita/).waitFor();
    assert.equal(await dialog.getByRole('checkbox', { name: 'prod' }).isChecked(), true);
    assert.deepEqual(await accessibilityViolations(page), []);
    await tabTo(page, /^Comment$/, 10);
    await page.keyboard.type('promoted by keyboard');
    await page.keyboard.press('Tab');
    assert.equal((await focused(page)).name, 'Request promotion');
    await page.keyboard.press('Enter');
    await dialog.getByRole('link', { name: 'Open the request' }).waitFor();
    const after = await focused(page);
    assert.ok(after.inDialog && after.name === 'Open the request', JSON.stringify(after));
    await screenshot(page, 'keyboard-promote-sent');
    await page.keyboard.press('Tab');
    assert.equal((await focused(page)).name, 'Close');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    await focusReturnsTo(page, 'Promote web from dev…');
    await context.close();
  });

  test('Ctrl+Enter in the comment sends the request', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/projects/shop`);
    await signInByKeyboard(page, 'admin', ADMIN_PASSWORD);
    await page.locator('[data-cell="web/dev"]').getByRole('button', { name: 'Promote web from dev…' }).waitFor();
    await tabTo(page, /^Promote web from dev…$/);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Promote web' });
    await dialog.getByText(/needs 1 more approval/).waitFor();
    await tabTo(page, /^Comment$/, 10);
    await page.keyboard.type('sent with ctrl+enter');
    await page.keyboard.press('Control+Enter');
    await dialog.getByRole('link', { name: 'Open the request' }).waitFor();
    const promotions = await as('root', 'GET', `${P}/promotions?state=AWAITING_APPROVAL`);
    assert.ok(
      (promotions.body.items as Array<{ comment: string | null }>).some((p) => p.comment === 'sent with ctrl+enter'),
      JSON.stringify(promotions.body),
    );
    await context.close();
  });

  // Esc closes a dialog at once, but the browser's \`close\` event follows as a task of its own: a "Promote…" pressed in
  // between opened the dialog again, and that late event closed it (seen as a flake of the test above).
  test('closed with Esc and opened again at once, the promote dialog stays open', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/projects/shop`);
    await signInByKeyboard(page, 'admin', ADMIN_PASSWORD);
    const button = page.locator('[data-cell="web/dev"]').getByRole('button', { name: 'Promote web from dev…' });
    await button.click();
    const dialog = page.getByRole('dialog', { name: 'Promote web' });
    await dialog.getByText(/needs 1 more approval/).waitFor();
    // What Esc does (a \`cancel\` event, then the dialog closes and queues \`close\`), then the button pressed before
    // that \`close\` is delivered.
    await page.evaluate(`(() => {
      const d = document.querySelector('dialog[open]');
      if (d.dispatchEvent(new Event('cancel', { cancelable: true }))) d.close();
      queueMicrotask(() => [...document.querySelectorAll('[data-cell="web/dev"] button')]
        .find((x) => x.textContent.includes('Promote web from dev')).click());
    })()`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await dialog.isVisible(), true, 'the dialog opened again stays open');
    await dialog.getByText(/needs 1 more approval/).waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await context.close();
  });

  test('rita signs in and approves from her inbox without a mouse', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/approvals`);
    await signInByKeyboard(page, 'rita', 'rita-password');
    await page.getByRole('heading', { name: 'My approvals' }).waitFor();
    await page.getByRole('button', { name: 'Approve prod' }).first().waitFor();
    const waiting = await page.getByRole('button', { name: 'Approve prod' }).count();
    const approve = await tabTo(page, /^Approve prod$/);
    assert.ok(approve.outlined, 'the approve button shows its focus');
    await page.keyboard.press('Enter');
    await page.getByRole('status').getByText('Approved shop/web for prod.').waitFor();
    // The row went away; the focus is on the message that says what happened, not lost on the page.
    assert.equal((await focused(page)).name, 'Approved shop/web for prod.');
    for (let i = 0; i < 50 && (await page.getByRole('button', { name: 'Approve prod' }).count()) !== waiting - 1; i++)
      await page.waitForTimeout(100);
    assert.equal(await page.getByRole('button', { name: 'Approve prod' }).count(), waiting - 1);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'keyboard-approved');
    await context.close();
  });
});
