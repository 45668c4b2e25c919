/**
 * The environment board and the request page with more than one person at once, in a real Chromium against a real
 * hoist server and registry: an admin promotes dev → staging in the dialog and sees it PROMOTED without a reload,
 * staging → prod waits for rita, who approves in her own browser while the admin's board follows; two approvers
 * approve one request at the same moment on two pages and both approvals count; a closed window counts down (on the
 * window's own clock) and only an admin may override it; a soaking build says when it may leave; a policy with
 * `scan.critical > 0` refuses an image with 2 critical findings and the request page shows the value 2; a policy change
 * turns an open request STALE and its open page says why; rita pins an environment from the board while vera's board
 * shows who pinned it.
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
import { buildArtifact, buildImage, type TestManifest } from '../harness/images.ts';
import { pushImage, pushReferrer } from '../harness/push.ts';
import { TRIVY, trivyReport } from '../harness/reports.ts';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** Counts the page's full loads from now on (a client-side route change is not one). */
function countLoads(page: Page): () => number {
  let loads = 0;
  page.on('load', () => loads++);
  return () => loads;
}

describe('the board and the request page, live, with several people', () => {
  let browser: Browser;
  let server: ConsoleServer;
  let reg: TestRegistry;
  let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
  let web: TestManifest;
  let api: TestManifest;
  let cart: TestManifest;
  /** The day after tomorrow, in Berlin: the sandbox environment's only window opens then at 09:00. */
  const opensOn = DAYS[(new Date().getUTCDay() + 2) % 7] as string;
  const P = '/api/v1/projects/shop';
  const ok = async (r: ReturnType<Call>) => {
    const x = await r;
    assert.ok(x.status < 300, JSON.stringify(x.body));
    return x.body as { id: string; targets: Array<{ state: string; environment: string }> };
  };

  before(async () => {
    reg = await startRegistry();
    web = buildImage({ layers: [1100] });
    api = buildImage({ layers: [1200] });
    cart = buildImage({ layers: [1300] });
    await pushImage(reg.url, 'dev/web', web, { tag: '1.0' });
    await pushImage(reg.url, 'dev/api', api, { tag: '2.0' });
    await pushReferrer(reg.url, 'dev/api', buildArtifact(api, { artifactType: TRIVY, content: trivyReport(2) }));
    await pushImage(reg.url, 'dev/cart', cart, { tag: '3.0' });
    server = await startConsole();
    browser = await launchBrowser();
    const tokens: Record<string, string> = { root: await server.api.tokenFor('root', { admin: true }) };
    for (const u of ['devon', 'rita', 'pete', 'vera']) tokens[u] = await server.api.tokenFor(u);
    as = (who, ...rest) => caller(server.api.app, tokens[who] ?? '')(...rest);
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
    await ok(as('root', 'POST', '/api/v1/projects', { name: 'shop' }));
    for (const app of ['web', 'api', 'cart']) await ok(as('root', 'POST', `${P}/applications`, { name: app }));
    const envs: Array<[string, Record<string, unknown>]> = [
      ['dev', {}],
      ['staging', {}],
      ['prod', { protected: false }],
      ['sandbox', { windows: [{ days: [opensOn], start: '09:00', end: '10:00', timeZone: 'Europe/Berlin' }] }],
      ['qa', { soakSeconds: 3600 }],
    ];
    for (const [env, extra] of envs) {
      await ok(as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: env }));
      await ok(
        as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
          ...extra,
        }),
      );
    }
    await ok(
      as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
          { from: 'dev', to: 'sandbox' },
          { from: 'dev', to: 'qa' },
          { from: 'qa', to: 'prod' },
        ],
      }),
    );
    for (const [u, role] of [
      ['devon', 'developer'],
      ['rita', 'promoter'],
      ['pete', 'promoter'],
      ['vera', 'viewer'],
    ] as const)
      await ok(as('root', 'POST', `${P}/members`, { username: u, role, environments: null }));
    const policies: Array<[string, Record<string, unknown>, Array<[string, string]>]> = [
      ['prod-gate', { approverCount: 1 }, [['web', 'prod']]],
      ['two-gate', { approverCount: 2 }, [['cart', 'staging']]],
      ['scan-gate', { approverCount: 1, failConditions: ['scan.critical > 5'] }, [['api', 'staging']]],
    ];
    for (const [name, rule, where] of policies) {
      await ok(as('root', 'POST', '/api/v1/policies', { name, ...rule }));
      await ok(
        as('root', 'POST', `/api/v1/policies/${name}/apply`, {
          applicationEnvironments: where.map(([application, environment]) => ({
            project: 'shop',
            application,
            environment,
          })),
        }),
      );
    }
    for (const [app, tag] of [
      ['web', '1.0'],
      ['api', '2.0'],
      ['cart', '3.0'],
    ])
      await ok(
        as('devon', 'POST', `${P}/applications/${app}/artifacts`, {
          reference: `${reg.host}/dev/${app}:${tag}`,
          // pete built web: separation of duties bars him from approving it.
          ...(app === 'web' ? { builder: 'pete' } : {}),
        }),
      );
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await reg?.stop();
  });

  test('admin promotes dev → staging and sees PROMOTED without a reload; rita approves prod in her browser; the board follows', async () => {
    const admin = await signedIn(browser, server, 'admin', '/projects/shop');
    const loads = countLoads(admin);
    await admin.getByRole('button', { name: 'Promote web from dev…' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Promote web' });
    await dialog.getByRole('checkbox', { name: 'staging' }).check();
    await dialog.getByText(/staging:\s*.*queued/i).waitFor();
    await dialog.getByRole('button', { name: 'Request promotion' }).click();
    await dialog.getByRole('link', { name: 'Open the request' }).waitFor();
    assert.equal(await server.api.services.runner.runOne(), true);
    // The dialog's own line for staging follows the request to PROMOTED (the event stream said so).
    await dialog.getByText(/staging:\s*.*promoted/i).waitFor({ timeout: 15_000 });
    await dialog.getByRole('button', { name: 'Close' }).click();
    const staging = admin.locator('[data-cell="web/staging"]');
    await staging.getByText(/since .* by admin/).waitFor({ timeout: 15_000 });
    assert.match(await staging.innerText(), /:1\.0\s+since .* by admin/);

    // staging → prod: the preview says who may give the approval it needs.
    await staging.getByRole('button', { name: 'Promote web from staging…' }).click();
    const next = admin.getByRole('dialog', { name: 'Promote web' });
    assert.equal(await next.getByRole('checkbox', { name: 'prod' }).isChecked(), true);
    await next.getByText(/needs 1 more approval \(0\/1\) from .*rita/).waitFor();
    await next.getByRole('button', { name: 'Request promotion' }).click();
    await next.getByRole('link', { name: 'Open the request' }).waitFor();
    await next.getByRole('button', { name: 'Close' }).click();
    const prod = admin.locator('[data-cell="web/prod"]');
    await prod.getByText(/awaiting approval 0\/1 approvals/i).waitFor();

    // rita, in a browser context of her own, approves from her inbox.
    const rita = await signedIn(browser, server, 'rita', '/approvals');
    const row = rita.getByRole('row', { name: /shop\/web/ });
    assert.match(await row.innerText(), /admin/);
    await row.getByRole('button', { name: 'Approve prod' }).click();
    await rita.getByText('Nothing waits for an approval.').waitFor();
    await prod.getByText(/queued/i).waitFor({ timeout: 15_000 });
    assert.equal(await server.api.services.runner.runOne(), true);
    await prod.getByText(/since .* by admin/).waitFor({ timeout: 15_000 });
    assert.match(await prod.innerText(), /:1\.0\s+since .* by admin \(request\)/);
    assert.equal(loads(), 0, "the admin's page was never reloaded");
    assert.deepEqual(await accessibilityViolations(admin), []);
    await screenshot(admin, 'board-live');
    await rita.context().close();
    await admin.context().close();
  });

  test('two approvers approve one request at the same moment on two pages: both approvals count, both pages follow', async () => {
    const request = await ok(
      as('devon', 'POST', `${P}/applications/cart/promotions`, { tag: '3.0', from: 'dev', to: ['staging'] }),
    );
    const url = `/projects/shop/promotions/${request.id}`;
    const [rita, pete] = await Promise.all([
      signedIn(browser, server, 'rita', url),
      signedIn(browser, server, 'pete', url),
    ]);
    for (const page of [rita, pete]) {
      await page
        .getByText(
          /needs 2 more approvals \(0\/2\) from .*pete.*rita|needs 2 more approvals \(0\/2\) from .*rita.*pete/,
        )
        .waitFor();
      await page.getByRole('button', { name: 'Approve…' }).click();
      await page
        .getByRole('form', { name: 'approve form' })
        .getByLabel('Comment')
        .fill(`ok from ${page === rita ? 'rita' : 'pete'}`);
    }
    // Both press Approve at once.
    await Promise.all([rita, pete].map((page) => page.getByRole('button', { name: 'Approve', exact: true }).click()));
    for (const page of [rita, pete]) {
      const target = page.getByRole('article');
      await target.getByText(/approved by rita/).waitFor({ timeout: 15_000 });
      await target.getByText(/approved by pete/).waitFor({ timeout: 15_000 });
      await page.getByRole('heading', { name: /staging\s+.*queued/i }).waitFor({ timeout: 15_000 });
      assert.match(await target.innerText(), /approvals 2\/2/);
      assert.equal(await page.getByRole('alert').count(), 0, 'neither approver saw an error');
    }
    const after = await as('devon', 'GET', `${P}/promotions/${request.id}`);
    assert.equal(after.body.targets[0].state, 'QUEUED');
    assert.deepEqual((after.body.targets[0].approvals as Array<{ username: string }>).map((a) => a.username).sort(), [
      'pete',
      'rita',
    ]);
    await rita.context().close();
    await pete.context().close();
  });

  test("a closed window counts down on the window's own clock; only an admin may override it, and it is audited", async () => {
    const devon = await signedIn(browser, server, 'devon', '/projects/shop');
    const cell = devon.locator('[data-cell="web/sandbox"]');
    await cell.getByText(/window closed/).waitFor();
    const day = opensOn.charAt(0).toUpperCase() + opensOn.slice(1);
    assert.match(await cell.innerText(), new RegExp(`window closed; opens ${day} 09:00 Europe/Berlin, in \\d+ (h|d)`));
    assert.match((await cell.locator('time').last().getAttribute('title')) ?? '', /UTC$/, 'the absolute time on hover');
    await devon.getByRole('button', { name: 'Promote web from dev…' }).click();
    let dialog = devon.getByRole('dialog', { name: 'Promote web' });
    await dialog.getByRole('checkbox', { name: 'sandbox' }).check();
    await dialog
      .getByText(/window closed \(.*Europe\/Berlin\); opens in \d+ (h|d); try then, or ask an admin/)
      .waitFor();
    assert.equal(await dialog.getByLabel(/Override the promotion window/).count(), 0, 'no override for a developer');
    await devon.keyboard.press('Escape');
    await devon.context().close();

    const admin = await signedIn(browser, server, 'admin', '/projects/shop');
    await admin.getByRole('button', { name: 'Promote web from dev…' }).click();
    dialog = admin.getByRole('dialog', { name: 'Promote web' });
    await dialog.getByRole('checkbox', { name: 'sandbox' }).check();
    await dialog.getByText(/window closed/).waitFor();
    await dialog.getByLabel(/Override the promotion window \(admin; audited\)/).check();
    await dialog.getByText(/sandbox:\s*.*queued/i).waitFor();
    assert.equal(await dialog.getByText(/window closed/).count(), 0);
    assert.deepEqual(await accessibilityViolations(admin), []);
    await screenshot(admin, 'promote-dialog-window-override');
    await dialog.getByLabel('Comment').fill('hotfix, window overridden');
    await dialog.getByRole('button', { name: 'Request promotion' }).click();
    await dialog.getByRole('link', { name: 'Open the request' }).waitFor();
    const audit = await as('root', 'GET', '/api/v1/audit?limit=50');
    assert.match(JSON.stringify(audit.body), /overrideWindow|override/i, JSON.stringify(audit.body).slice(0, 500));
    await admin.context().close();
  });

  test('a soaking build says when it may leave, on the board and in the dialog', async () => {
    const r = await ok(
      as('devon', 'POST', `${P}/applications/web/promotions`, { tag: '1.0', from: 'dev', to: ['qa'] }),
    );
    assert.equal(r.targets[0]?.state, 'QUEUED');
    // Other tests queued promotions too (the overridden window's): run until nothing is left.
    while (await server.api.services.runner.runOne());
    assert.equal((await as('devon', 'GET', `${P}/promotions/${r.id}`)).body.targets[0].state, 'PROMOTED');
    const page = await signedIn(browser, server, 'devon', '/projects/shop');
    const cell = page.locator('[data-cell="web/qa"]');
    await cell.getByText(/soaking: may leave in (59|60) min/).waitFor();
    await cell.getByRole('button', { name: 'Promote web from qa…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Promote web' });
    await dialog.getByText(/soaking in qa: may leave in (59|60) min/).waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'promote-dialog-soak');
    await page.keyboard.press('Escape');
    await page.context().close();
  });

  test('scan.critical > 0 refuses 2 critical findings and the request page shows the value; a policy change turns an open request STALE and its page says why', async () => {
    // Under scan.critical > 5 the request waits for an approval; devon keeps its page open.
    const waiting = await ok(
      as('devon', 'POST', `${P}/applications/api/promotions`, { tag: '2.0', from: 'dev', to: ['staging'] }),
    );
    assert.equal(waiting.targets[0]?.state, 'AWAITING_APPROVAL');
    const devon = await signedIn(browser, server, 'devon', `/projects/shop/promotions/${waiting.id}`);
    await devon.getByRole('heading', { name: /staging\s+.*awaiting approval/i }).waitFor();
    const loads = countLoads(devon);

    await ok(
      as('root', 'PUT', '/api/v1/policies/scan-gate', { approverCount: 1, failConditions: ['scan.critical > 0'] }),
    );
    await devon.getByRole('heading', { name: /staging\s+.*stale/i }).waitFor({ timeout: 15_000 });
    const stale = await devon.getByRole('article').innerText();
    assert.match(stale, /scan-gate/, 'the page names the policy that changed');
    assert.doesNotMatch(stale, /^\s*stale\s*$/m, 'more than the bare state');
    assert.equal(loads(), 0);
    assert.deepEqual(await accessibilityViolations(devon), []);
    await screenshot(devon, 'promotion-stale');
    // Asked again from the page, the same digest is refused at once by the new version.
    await devon.getByRole('button', { name: 'Request again…' }).click();
    const dialog = devon.getByRole('dialog', { name: 'Promote api' });
    assert.equal(await dialog.getByRole('checkbox', { name: 'staging' }).isChecked(), true);
    await dialog.getByText(/scan\.critical > 0 \(scan\.critical = 2\)/).waitFor();
    await dialog.getByRole('button', { name: 'Request promotion' }).click();
    await dialog.getByRole('link', { name: 'Open the request' }).click();
    await devon.getByRole('heading', { name: /staging\s+.*rejected/i }).waitFor();
    const row = devon.getByRole('row', { name: /scan\.critical > 0/ });
    assert.match(await row.innerText(), /fail\s+scan\.critical > 0\s+true\s+scan\.critical = 2/);
    await screenshot(devon, 'promotion-denied-scan');
    await devon.context().close();
  });

  test("rita pins an environment from the board; vera's open board shows who pinned it, and vera's Save says the role it needs", async () => {
    const vera = await signedIn(browser, server, 'vera', '/projects/shop');
    const veraCell = vera.locator('[data-cell="web/staging"]');
    await veraCell.getByText(/:1\.0/).waitFor();
    await vera.getByText(/You see shop as a viewer: promoting needs the developer, promoter or owner role/).waitFor();
    const loads = countLoads(vera);

    const rita = await signedIn(browser, server, 'rita', '/projects/shop');
    await rita.getByRole('button', { name: 'Pin / track… web in staging' }).click();
    const dialog = rita.getByRole('dialog', { name: 'web in staging' });
    await dialog.getByText(/Now: promotions only/).waitFor();
    await dialog.getByLabel('Pin to the digest held now').check();
    await dialog.getByLabel('Comment').fill('freeze for the audit');
    assert.deepEqual(await accessibilityViolations(rita), []);
    await screenshot(rita, 'binding-dialog');
    await dialog.getByRole('button', { name: 'Save binding' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await rita
      .locator('[data-cell="web/staging"]')
      .getByText(/pinned to sha256:[0-9a-f]{12} by rita/)
      .waitFor();

    await veraCell.getByText(/pinned to sha256:[0-9a-f]{12} by rita/).waitFor({ timeout: 15_000 });
    assert.equal(loads(), 0, "vera's board was not reloaded");
    const binding = await as('vera', 'GET', `${P}/bindings`);
    assert.deepEqual(
      (
        binding.body.items as Array<{ application: string; environment: string; mode: string; pinnedDigest: string }>
      ).map((b) => [b.application, b.environment, b.mode, b.pinnedDigest]),
      [['web', 'staging', 'pin', web.digest]],
    );

    await vera.getByRole('button', { name: 'Pin / track… web in staging' }).click();
    const veraDialog = vera.getByRole('dialog', { name: 'web in staging' });
    await veraDialog.getByText(/Now: pinned to sha256:[0-9a-f]{64} by rita/).waitFor();
    await veraDialog.getByLabel('Track the latest good build').check();
    assert.equal(await veraDialog.getByRole('button', { name: 'Save binding' }).isDisabled(), true);
    assert.match(
      await veraDialog.locator('.gated').innerText(),
      /needs the owner or promoter role for staging in shop/,
    );
    await vera.keyboard.press('Escape');
    await veraDialog.waitFor({ state: 'hidden' });
    await rita.context().close();
    await vera.context().close();
  });

  test('the inbox says why each may approve or not: pete built the image, rita is a promoter for prod', async () => {
    const r = await ok(
      as('devon', 'POST', `${P}/applications/web/promotions`, { tag: '1.0', from: 'staging', to: ['prod'] }),
    );
    assert.equal(r.targets[0]?.state, 'AWAITING_APPROVAL');
    const pete = await signedIn(browser, server, 'pete', '/approvals');
    const peteRow = pete.getByRole('row', { name: /shop\/web/ });
    await peteRow.getByText('You cannot approve: you built this image').waitFor();
    assert.equal(await peteRow.getByRole('button', { name: 'Approve prod' }).count(), 0);
    const rita = await signedIn(browser, server, 'rita', '/approvals');
    const ritaRow = rita.getByRole('row', { name: /shop\/web/ });
    await ritaRow.getByText('You may approve: you are promoter for prod in shop.').waitFor();
    assert.match(await ritaRow.innerText(), /prod-gate@1/);
    assert.deepEqual(await accessibilityViolations(rita), []);
    await pete.goto(`${server.url}/projects/shop/promotions/${r.id}`);
    await pete.getByText('You cannot approve this: you built this image.').waitFor();
    assert.equal(await pete.getByRole('button', { name: 'Approve…' }).isDisabled(), true);
    await pete.context().close();
    await rita.context().close();
  });
});
