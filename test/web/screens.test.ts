/**
 * The console's deeper screens in a real Chromium against a real hoist server and registry: a digest's journey
 * (registered, promoted with rita's approval under a policy version, waiting for prod), comparing environments and
 * digests, the policy editor (a line:column error while typing, the preview of what saving does to waiting
 * requests), automation and administration. Each screen: seeded data, the key action, a viewer's disabled actions
 * with the role needed, no axe-core WCAG A/AA violation, and a screenshot under test-output/screens/.
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
import { buildArtifact, buildImage, SBOM_ARTIFACT, SIGNATURE_ARTIFACT, type TestManifest } from '../harness/images.ts';
import { pushImage, pushReferrer } from '../harness/push.ts';
import { spdxSbom as spdx, TRIVY, trivyReport as trivy } from '../harness/reports.ts';

describe('web console screens', () => {
  let browser: Browser;
  let server: ConsoleServer;
  let reg: TestRegistry;
  let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
  let first: TestManifest;
  let second: TestManifest;
  let prodRequest: string;
  let stagingRequest: string;
  const P = '/api/v1/projects/shop';
  const ok = async (r: ReturnType<Call>) => {
    const x = await r;
    assert.ok(x.status < 300, JSON.stringify(x.body));
    return x.body as { id: string; targets: Array<{ state: string }> };
  };

  before(async () => {
    reg = await startRegistry();
    first = buildImage({ layers: [900], labels: { 'org.opencontainers.image.revision': 'aaa111', team: 'shop' } });
    await pushImage(reg.url, 'dev/web', first, { tag: '1.0' });
    await pushReferrer(reg.url, 'dev/web', buildArtifact(first, { artifactType: SIGNATURE_ARTIFACT }));
    await pushReferrer(reg.url, 'dev/web', buildArtifact(first, { artifactType: TRIVY, content: trivy(2) }));
    await pushReferrer(
      reg.url,
      'dev/web',
      buildArtifact(first, {
        artifactType: SBOM_ARTIFACT,
        content: spdx([
          ['openssl', 'Apache-2.0'],
          ['zlib', 'Zlib'],
        ]),
      }),
    );
    second = buildImage({ layers: [950], labels: { 'org.opencontainers.image.revision': 'bbb222', team: 'shop' } });
    await pushImage(reg.url, 'dev/web', second, { tag: '1.1' });
    await pushReferrer(reg.url, 'dev/web', buildArtifact(second, { artifactType: TRIVY, content: trivy(0) }));
    await pushReferrer(
      reg.url,
      'dev/web',
      buildArtifact(second, {
        artifactType: SBOM_ARTIFACT,
        content: spdx([
          ['openssl', 'Apache-2.0'],
          ['left-pad', 'WTFPL'],
        ]),
      }),
    );

    server = await startConsole();
    browser = await launchBrowser();
    const tokens: Record<string, string> = { root: await server.api.tokenFor('root', { admin: true }) };
    for (const u of ['devon', 'rita', 'vera']) tokens[u] = await server.api.tokenFor(u);
    as = (who, ...rest) => caller(server.api.app, tokens[who] ?? '')(...rest);
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
    await ok(as('root', 'POST', '/api/v1/projects', { name: 'shop' }));
    await ok(as('root', 'POST', `${P}/applications`, { name: 'web' }));
    for (const env of ['dev', 'staging', 'prod']) {
      await ok(as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: env }));
      await ok(
        as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        }),
      );
    }
    await ok(
      as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
        ],
      }),
    );
    for (const [u, role] of [
      ['devon', 'developer'],
      ['rita', 'promoter'],
      ['vera', 'viewer'],
    ] as const)
      await ok(as('root', 'POST', `${P}/members`, { username: u, role, environments: null }));
    for (const [name, env] of [
      ['staging-gate', 'staging'],
      ['prod-gate', 'prod'],
    ]) {
      await ok(
        as('root', 'POST', '/api/v1/policies', { name, approverCount: 1, failConditions: ['scan.critical > 5'] }),
      );
      await ok(
        as('root', 'POST', `/api/v1/policies/${name}/apply`, {
          applicationEnvironments: [{ project: 'shop', application: 'web', environment: env }],
        }),
      );
    }
    await ok(
      as('devon', 'POST', `${P}/applications/web/artifacts`, {
        reference: `${reg.host}/dev/web:1.0`,
        commit: 'aaa111',
        branch: 'main',
      }),
    );
    const toStaging = await ok(
      as('devon', 'POST', `${P}/applications/web/promotions`, { tag: '1.0', from: 'dev', to: ['staging'] }),
    );
    await ok(as('rita', 'POST', `${P}/promotions/${toStaging.id}/approve`, { comment: 'looks good' }));
    assert.equal(await server.api.services.runner.runOne(), true);
    assert.equal((await as('devon', 'GET', `${P}/promotions/${toStaging.id}`)).body.targets[0].state, 'PROMOTED');
    stagingRequest = toStaging.id;
    prodRequest = (
      await ok(
        as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: first.digest,
          from: 'staging',
          to: ['prod'],
        }),
      )
    ).id;
    await ok(
      as('devon', 'POST', `${P}/applications/web/artifacts`, {
        reference: `${reg.host}/dev/web:1.1`,
        commit: 'bbb222',
        branch: 'main',
      }),
    );
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await reg?.stop();
  });

  test("the artifact page shows the digest's journey: who promoted, who approved, the policy version, waiting for prod", async () => {
    const page = await signedIn(browser, server, 'devon', `/projects/shop/apps/web/artifacts/${first.digest}`);
    const journey = page.getByRole('region', { name: 'Journey' });
    await journey.getByText(/dev → staging/).waitFor();
    const text = await journey.innerText();
    assert.match(text, /Registered in dev by devon/);
    assert.match(text, /promoted\s+dev → staging requested by devon/i);
    assert.match(text, /approved by rita · policy staging-gate@1/);
    assert.match(text, /staging → prod waiting: 0\/1 approvals under prod-gate@1/);
    const facts = await page.getByRole('region', { name: 'Signatures, SBOM, scan' }).innerText();
    assert.match(facts, /✔ 1 attached/);
    assert.match(facts, /2 critical/);
    assert.match(facts, /Apache-2\.0, Zlib/);
    const where = page.getByRole('region', { name: 'Environments and pull references' });
    assert.match(await where.getByRole('row', { name: /^dev/ }).innerText(), /replaced by/);
    assert.match(await where.getByRole('row', { name: /^staging/ }).innerText(), /holds it now/);
    assert.match(await where.innerText(), new RegExp(`${reg.host}/staging/web@${first.digest}`));
    assert.equal(await page.getByRole('button', { name: 'Quarantine…' }).isDisabled(), true);
    assert.match(await page.locator('.gated', { hasText: 'Quarantine' }).innerText(), /needs the admin role/);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'artifact');

    // Promote from here: the shared dialog previews each target before anything is sent.
    await page.getByRole('button', { name: 'Promote…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Promote web' });
    await dialog.getByLabel('From').selectOption('staging');
    await dialog.getByRole('checkbox', { name: 'prod' }).check();
    await dialog.getByText(/needs 1 more approval \(0\/1\) from rita/).waitFor();
    assert.equal(await dialog.getByRole('checkbox', { name: /dev/ }).isDisabled(), true);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'artifact-promote-dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await page.context().close();
  });

  test("the request page tells each target's story: requested, approved with the comment, copied (bytes, time), promoted", async () => {
    const page = await signedIn(browser, server, 'devon', `/projects/shop/promotions/${stagingRequest}`);
    const timeline = page.getByRole('list', { name: 'timeline of staging' });
    await timeline.getByText(/promoted in/).waitFor();
    const steps = await timeline.getByRole('listitem').allInnerTexts();
    assert.equal(steps.length, 4, steps.join('\n'));
    assert.match(steps[0]!, /requested by devon: awaiting approval · .*ago/);
    assert.match(steps[1]!, /approved by rita — “looks good” · /);
    assert.match(steps[2]!, /copy started · /);
    assert.match(steps[3]!, /promoted in \d+\.\d s: \d+(\.\d)? (B|KiB|MiB) copied, tag 1\.0 written/);
    // Every step's time: relative on the page, the absolute UTC time on hover.
    for (const title of await timeline.locator('time').evaluateAll((ts) => ts.map((t) => t.getAttribute('title'))))
      assert.match(title ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    assert.match(
      await page.getByRole('article').locator('.muted').first().innerText(),
      /approvals 1\/1 · \d+(\.\d)? (B|KiB|MiB) copied/,
    );
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'request-timeline');
    await page.context().close();
  });

  test('a viewer sees the actions disabled with the role needed', async () => {
    // From the board: the cell's Promote says why it is disabled, in text its button is described by.
    const page = await signedIn(browser, server, 'vera', '/projects/shop');
    const promote = page.getByRole('button', { name: 'Promote web from dev…' });
    assert.equal(await promote.isDisabled(), true);
    const described = await promote.getAttribute('aria-describedby');
    assert.ok(described, 'the disabled Promote names the text that says why');
    assert.match(
      await page.locator(`#${described}`).innerText(),
      /You see shop as a viewer: promoting needs the developer, promoter or owner role/,
    );
    // The cell's link opens the journey of the digest that environment holds.
    await page.getByRole('link', { name: 'Journey of web in staging' }).click();
    await page.waitForURL(new RegExp(`/apps/web/artifacts/${encodeURIComponent(first.digest)}$`));
    await page
      .getByRole('region', { name: 'Journey' })
      .getByText(/dev → staging/)
      .waitFor();
    assert.equal(await page.getByRole('button', { name: 'Promote…' }).isDisabled(), true);
    assert.match(
      await page.locator('.gated', { hasText: 'Promote' }).innerText(),
      /needs the developer, promoter or owner role/,
    );
    assert.equal(await page.getByRole('button', { name: 'Quarantine…' }).isDisabled(), true);
    await page.context().close();
  });

  test('compare: the board links to it; different digests show what changed; the same digest says so', async () => {
    const page = await signedIn(browser, server, 'rita', '/projects/shop');
    // The navigation's badge: rita may approve the request waiting for prod.
    assert.match(await page.getByRole('link', { name: /My approvals/ }).innerText(), /My approvals\s*1/);
    await page.getByRole('link', { name: /Compare with staging/ }).click();
    await page.waitForURL(/\/apps\/web\/compare\?a=env(:|%3A)dev&b=env(:|%3A)staging/);
    await page.getByText('Different digests').waitFor();
    const table = await page.locator('table.compare').innerText();
    assert.match(table, /commit\s+aaa111|commit\s+bbb222/);
    assert.match(table, /scan: critical\s+0\s+2\s+≠ yes/);
    assert.match(table, /signature\s+✖ unsigned\s+✔ signed\s+≠ yes/);
    const components = await page.getByRole('region', { name: 'Components' }).innerText();
    assert.match(components, /added zlib/);
    assert.match(components, /removed left-pad/);
    assert.match(await page.getByRole('region', { name: 'Licences' }).innerText(), /removed WTFPL/);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'compare');

    // The URL holds the comparison: staging against the digest it holds is the same digest.
    await page.goto(`${server.url}/projects/shop/apps/web/compare?a=env:staging&b=${first.digest}`);
    await page.getByText('Same digest').waitFor();
    assert.match(await page.getByRole('status').innerText(), /staging and sha256:[0-9a-f]{12} hold/);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'compare-same');
    await page.context().close();
  });

  test('an admin quarantines a digest from its page; the waiting prod request is rejected and the page says so', async () => {
    const page = await signedIn(browser, server, 'admin', `/projects/shop/apps/web/artifacts/${first.digest}`);
    await page.getByRole('button', { name: 'Quarantine…' }).click();
    await page.getByLabel('Reason (required)').fill('CVE-2026-0 exploited');
    await page.getByRole('button', { name: 'Quarantine this digest' }).click();
    await page.getByText(/Quarantined by admin/).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Promote…' }).isDisabled(), true);
    const journey = page.getByRole('region', { name: 'Journey' });
    await journey.getByText(/rejected\s+staging → prod/i).waitFor({ timeout: 10_000 });
    assert.equal((await as('devon', 'GET', `${P}/promotions/${prodRequest}`)).body.targets[0].state, 'REJECTED');
    await page.getByRole('button', { name: 'Lift quarantine' }).click();
    await page.getByRole('button', { name: 'Quarantine…' }).waitFor();
    await page.context().close();
  });

  test('policies: the editor shows line:column while typing, tries the draft on an artifact, previews what saving does', async () => {
    const waiting = await ok(
      as('devon', 'POST', `${P}/applications/web/promotions`, { digest: first.digest, from: 'staging', to: ['prod'] }),
    );
    assert.equal(waiting.targets[0]?.state, 'AWAITING_APPROVAL');
    const page = await signedIn(browser, server, 'admin', '/policies');
    await page.getByRole('link', { name: 'prod-gate' }).waitFor();
    assert.match(await page.getByRole('row', { name: /prod-gate/ }).innerText(), /shop\/web→prod/);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'policies');

    await page.getByRole('link', { name: 'prod-gate' }).click();
    const fail = page.getByLabel(/Fail conditions/);
    await fail.fill('scan.critical > 5\nscan.critical >');
    const problem = page.locator('#condition-problems');
    await problem.getByText(/fail conditions, line 2:\d+: /).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Review and save…' }).isDisabled(), true);
    await fail.fill('scan.critical > 5\nscan.critical > 1');
    await problem.getByText('Every condition compiles.').waitFor();
    await page.getByRole('group', { name: 'Separation of duties' }).waitFor();
    assert.match(await page.locator('.catalogue').innerText(), /scan\.critical/);

    const tryIt = page.getByRole('region', { name: 'Try against an artifact' });
    await tryIt.getByLabel('Project').selectOption('shop');
    await tryIt.getByLabel('Application').selectOption('web');
    await tryIt.getByLabel('Artifact').selectOption(first.digest);
    await tryIt.getByRole('button', { name: 'Evaluate the draft' }).click();
    await tryIt.getByText(/Denied: fail condition `scan.critical > 1` is true/).waitFor();
    assert.match(await tryIt.getByRole('row', { name: /scan.critical > 5/ }).innerText(), /false/);

    await page.getByRole('button', { name: 'Review and save…' }).click();
    const preview = page.getByRole('region', { name: 'What saving will do' });
    const row = preview.getByRole('row', { name: /shop\/web → prod/ });
    await row.waitFor();
    assert.match(await row.innerText(), /awaiting approval\s+⚠?\s*stale/i);
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'policy-editor');
    assert.equal(
      (await as('devon', 'GET', `${P}/promotions/${waiting.id}`)).body.targets[0].state,
      'AWAITING_APPROVAL',
    );
    await preview.getByRole('button', { name: 'Save as version 2' }).click();
    await page.getByRole('heading', { name: /Policy prod-gate v2/ }).waitFor();
    assert.equal((await as('devon', 'GET', `${P}/promotions/${waiting.id}`)).body.targets[0].state, 'STALE');
    const diff = page.getByLabel('Changes from version 1 to 2');
    assert.match(await diff.innerText(), /\+ added\s+fail: scan\.critical > 1/);
    await page.getByRole('button', { name: 'v1' }).click();
    await page.waitForURL(/\?v=1$/);
    await page.getByText('Version 1 is the first').waitFor();
    await screenshot(page, 'policy-versions');
    await page.context().close();

    const vera = await signedIn(browser, server, 'vera', '/policies/prod-gate');
    await vera.getByLabel(/Fail conditions/).fill('scan.critical > 9');
    assert.equal(await vera.getByRole('button', { name: 'Review and save…' }).isDisabled(), true);
    assert.match(await vera.locator('.gated', { hasText: 'Review and save' }).innerText(), /needs the admin role/);
    assert.equal(await vera.getByRole('button', { name: 'Evaluate the draft' }).isDisabled(), true);
    assert.equal(await vera.getByRole('button', { name: 'Apply' }).isDisabled(), true);
    await vera.goto(`${server.url}/policies`);
    assert.equal(await vera.getByRole('button', { name: 'Create policy' }).isDisabled(), true);
    await vera.context().close();
  });
});
