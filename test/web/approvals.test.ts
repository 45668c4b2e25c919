/**
 * Approving in the browser, with the people who matter in separate contexts: the requester sees the reason they
 * cannot approve, a viewer sees no usable action, a promoter approves from her inbox, and the requester's open page
 * shows the new state without a reload. Also: a token's secret is shown once, the audit chain verifies, history
 * filters survive a reload and the CSV holds exactly the filtered rows.
 */
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
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
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';
import { openSse } from '../helpers/sse.ts';

describe('approvals in the web console', () => {
  let browser: Browser;
  let server: ConsoleServer;
  let reg: TestRegistry;
  let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
  let prodRequest: string;
  const P = '/api/v1/projects/shop';

  before(async () => {
    reg = await startRegistry();
    await pushImage(reg.url, 'dev/web', buildImage({ layers: [1000] }), { tag: '1.0' });
    await pushImage(reg.url, 'dev/api', buildImage({ layers: [1200] }), { tag: '2.0' });
    server = await startConsole();
    browser = await launchBrowser();
    const tokens: Record<string, string> = { root: await server.api.tokenFor('root', { admin: true }) };
    for (const u of ['devon', 'rita', 'vera']) tokens[u] = await server.api.tokenFor(u);
    as = (who, ...rest) => caller(server.api.app, tokens[who] ?? '')(...rest);
    const ok = async (r: ReturnType<Call>) => {
      const x = await r;
      assert.ok(x.status < 300, JSON.stringify(x.body));
      return x.body as { id: string };
    };
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
    await ok(as('root', 'POST', '/api/v1/projects', { name: 'shop' }));
    for (const app of ['web', 'api']) await ok(as('root', 'POST', `${P}/applications`, { name: app }));
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
    for (const [u, role] of [
      ['devon', 'developer'],
      ['rita', 'promoter'],
      ['vera', 'viewer'],
    ] as const)
      await ok(as('root', 'POST', `${P}/members`, { username: u, role, environments: null }));
    await ok(as('root', 'POST', '/api/v1/policies', { name: 'prod-gate', approverCount: 1 }));
    await ok(
      as('root', 'POST', '/api/v1/policies/prod-gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
      }),
    );
    for (const [app, tag] of [
      ['web', '1.0'],
      ['api', '2.0'],
    ])
      await ok(
        as('devon', 'POST', `${P}/applications/${app}/artifacts`, { reference: `${reg.host}/dev/${app}:${tag}` }),
      );
    prodRequest = (
      await ok(as('devon', 'POST', `${P}/applications/web/promotions`, { tag: '1.0', from: 'dev', to: ['prod'] }))
    ).id;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await reg?.stop();
  });

  test('the requester sees why not, a viewer cannot act, rita approves from her inbox, the first page updates', async () => {
    const devon = await signedIn(browser, server, 'devon', `/projects/shop/promotions/${prodRequest}`);
    await devon.getByText('You cannot approve this: you requested this.').waitFor();
    assert.equal(await devon.getByRole('button', { name: 'Approve…' }).isDisabled(), true);
    assert.equal(await devon.getByRole('button', { name: 'Cancel request' }).isDisabled(), false);
    assert.deepEqual(await accessibilityViolations(devon), []);
    await screenshot(devon, 'promotion-awaiting');

    const vera = await signedIn(browser, server, 'vera', `/projects/shop/promotions/${prodRequest}`);
    await vera.getByText(/you need the promoter role for prod/).waitFor();
    for (const name of ['Approve…', 'Reject…', 'Cancel request'])
      assert.equal(await vera.getByRole('button', { name }).isDisabled(), true, name);
    await vera.context().close();

    const rita = await signedIn(browser, server, 'rita', '/approvals');
    // Both pages hold the event stream open; while it is, devon's page does not poll (it did every 2 s before).
    for (let i = 0; i < 100 && server.api.services.live.count() < 2; i++) await rita.waitForTimeout(100);
    assert.ok(server.api.services.live.count() >= 2, 'both pages opened the event stream');
    const reads: string[] = [];
    devon.on('request', (r) => {
      if (r.url().includes(`/promotions/${prodRequest}`)) reads.push(r.url());
    });
    await devon.waitForTimeout(3000);
    assert.deepEqual(reads, [], 'no polling while the stream is open');
    const row = rita.getByRole('row', { name: /shop\/web/ });
    await row.getByRole('button', { name: 'Approve prod' }).waitFor();
    assert.match(await rita.getByRole('link', { name: /My approvals/ }).innerText(), /My approvals/);
    assert.deepEqual(await accessibilityViolations(rita), []);
    await screenshot(rita, 'approvals');
    await row.getByRole('button', { name: 'Approve prod' }).click();
    await rita.getByText('Nothing waits for an approval.').waitFor();

    // devon's page, untouched since it loaded, shows the approval and the new state by itself: the stream said so.
    await devon.getByText(/approved by rita/).waitFor({ timeout: 15_000 });
    // Its state now (the heading); the timeline below keeps "requested …: awaiting approval" as history.
    assert.doesNotMatch(await devon.locator('article h2').innerText(), /awaiting approval/i);
    assert.match(await devon.getByRole('list', { name: 'timeline of prod' }).innerText(), /approved by rita/);
    await rita.context().close();
    await devon.context().close();
  });

  test('the board shows what each environment holds; the promote dialog offers only targets with an edge', async () => {
    const page = await signedIn(browser, server, 'devon', '/projects/shop');
    const cell = page.locator('[data-cell="api/dev"]');
    await cell.getByRole('button', { name: 'Promote api from dev…' }).waitFor();
    assert.match(await cell.innerText(), /sha256:[0-9a-f]{12}/);
    assert.match(await cell.innerText(), /:2\.0/);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'board');
    await cell.getByRole('button', { name: 'Promote api from dev…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Promote api' });
    await dialog.waitFor();
    assert.equal(await dialog.getByRole('checkbox', { name: /qa/ }).isDisabled(), true);
    assert.match(await dialog.innerText(), /no edge dev → qa/);
    assert.equal(await dialog.getByRole('checkbox', { name: /prod/ }).isChecked(), true);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'promote-dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    const vera = await signedIn(browser, server, 'vera', '/projects/shop');
    const veraCell = vera.locator('[data-cell="api/dev"]');
    await veraCell.getByRole('button', { name: 'Promote api from dev…' }).waitFor();
    assert.equal(await veraCell.getByRole('button', { name: 'Promote api from dev…' }).isDisabled(), true);
    await vera.context().close();
    await page.context().close();
  });

  test('an API token secret is shown once', async () => {
    const page = await signedIn(browser, server, 'devon', '/tokens');
    await page.getByLabel('Name').fill('ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByTestId('token-secret').innerText();
    assert.ok(secret.length >= 20);
    const check = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(check.status, 200);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'tokens');
    await page.reload();
    await page.getByRole('button', { name: 'Revoke ci' }).waitFor();
    assert.equal(await page.getByTestId('token-secret').count(), 0);
    assert.doesNotMatch(await page.content(), new RegExp(secret));
    await page.context().close();
  });

  test('an admin verifies the audit chain', async () => {
    const page = await signedIn(browser, server, 'admin', '/audit');
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByText(/Chain intact/).waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'audit');
    await page.context().close();
  });

  test('history filters live in the URL and the CSV has exactly the filtered rows', async () => {
    // Two finished rows per application: web rejected by rita, api refused by a policy that denies everything.
    for (let i = 0; i < 2; i++) {
      const web = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: '1.0',
        from: 'dev',
        to: ['prod'],
      });
      assert.equal(web.status, 201, JSON.stringify(web.body));
      const rejected = await as('rita', 'POST', `${P}/promotions/${web.body.id}/reject`, { comment: 'not today' });
      assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    }
    assert.equal(
      (await as('root', 'POST', '/api/v1/policies', { name: 'closed', failConditions: ['true'] })).status,
      201,
    );
    await as('root', 'POST', '/api/v1/policies/closed/apply', {
      applicationEnvironments: [{ project: 'shop', application: 'api', environment: 'prod' }],
    });
    const r = await as('devon', 'POST', `${P}/applications/api/promotions`, { tag: '2.0', from: 'dev', to: ['prod'] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.targets[0].state, 'REJECTED');
    const page = await signedIn(browser, server, 'rita', '/projects/shop/history');
    await page.getByRole('row', { name: /api/ }).first().waitFor();
    await page.getByLabel('application').fill('web');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/app=web/);
    await page.reload();
    assert.equal(await page.getByLabel('application').inputValue(), 'web');
    const rows = page.locator('tbody tr');
    await rows.first().waitFor();
    const shown = await rows.count();
    assert.equal(shown, 2);
    assert.equal(await page.getByRole('row', { name: /\bapi\b/ }).count(), 0);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: /Export CSV/ }).click();
    // Read through Playwright's stream: path() is refused when the browser is npm test's shared one (connected).
    const csv = await text(await (await download).createReadStream());
    const lines = csv.trim().split('\r\n');
    assert.equal(lines.length, shown + 1, csv);
    assert.ok(
      lines.slice(1).every((l) => l.includes('"web"')),
      csv,
    );
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'history');
    await page.context().close();
  });

  test('a page whose event stream is refused polls instead, and still shows a change without a reload', async () => {
    // vera already holds as many streams as one user may: her browser's EventSource gets a 429.
    const veraToken = await server.api.tokenFor('vera');
    const held = await Promise.all(
      Array.from({ length: 5 }, () =>
        openSse(`${server.url}/api/v1/events/stream`, { authorization: `Bearer ${veraToken}` }),
      ),
    );
    try {
      assert.ok(held.every((s) => s.status === 200));
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: '1.0',
        from: 'dev',
        to: ['prod'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const vera = await signedIn(browser, server, 'vera', `/projects/shop/promotions/${r.body.id}`);
      const refused = await openSse(`${server.url}/api/v1/events/stream`, { authorization: `Bearer ${veraToken}` });
      assert.equal(refused.status, 429, 'the limit holds');
      await vera
        .getByText(/awaiting approval/i)
        .first()
        .waitFor();
      const reads: string[] = [];
      vera.on('request', (req) => {
        if (req.url().includes(`/promotions/${r.body.id}`)) reads.push(req.url());
      });
      await vera.waitForRequest((req) => req.url().includes(`/promotions/${r.body.id}`), { timeout: 10_000 });
      assert.ok(reads.length >= 1, 'the page polls while it has no stream');
      assert.equal((await as('devon', 'POST', `${P}/promotions/${r.body.id}/cancel`, {})).status, 200);
      await vera.getByRole('heading', { name: /prod\s+.*canceled/i }).waitFor({ timeout: 15_000 });
      // And why, in the server's words (before, the page said only the blocker's kind: "decision").
      await vera.locator('article .reasons').getByText('canceled by devon').waitFor();
      await vera
        .getByRole('list', { name: 'timeline of prod' })
        .getByText(/canceled by devon · /)
        .waitFor();
      await vera.context().close();
    } finally {
      for (const s of held) s.close();
    }
  });
});
