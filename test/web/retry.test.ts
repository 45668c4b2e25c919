/**
 * Retrying in the browser: a promotion FAILED because the target registry denied the push; a viewer sees the Retry
 * button disabled with the role it needs, the requester retries it, and the page follows it to PROMOTED.
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
import { startProxy, type TestProxy } from '../harness/proxy.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

describe('retry in the web console', () => {
  let browser: Browser;
  let server: ConsoleServer;
  let reg: TestRegistry;
  let gated: TestProxy;
  let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
  let failed: string;
  const P = '/api/v1/projects/shop';

  before(async () => {
    reg = await startRegistry();
    // prod lives behind a proxy that denies the first push of a manifest there.
    gated = await startProxy(reg.url);
    await pushImage(reg.url, 'dev/web', buildImage({ layers: [1500] }), { tag: '1.0' });
    server = await startConsole();
    browser = await launchBrowser();
    const tokens: Record<string, string> = { root: await server.api.tokenFor('root', { admin: true }) };
    for (const u of ['devon', 'vera']) tokens[u] = await server.api.tokenFor(u);
    as = (who, ...rest) => caller(server.api.app, tokens[who] ?? '')(...rest);
    const ok = async (r: ReturnType<Call>) => {
      const x = await r;
      assert.ok(x.status < 300, JSON.stringify(x.body));
      return x.body as { id: string };
    };
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
    await ok(as('root', 'POST', '/api/v1/registries', { name: 'gated', url: `http://${gated.host}` }));
    await ok(as('root', 'POST', '/api/v1/projects', { name: 'shop' }));
    await ok(as('root', 'POST', `${P}/applications`, { name: 'web' }));
    await ok(as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: 'dev/' }));
    await ok(as('root', 'PUT', `${P}/namespaces`, { registry: 'gated', prefix: 'prod/' }));
    for (const [env, registry] of [
      ['dev', 'local'],
      ['prod', 'gated'],
    ])
      await ok(
        as('root', 'PUT', `${P}/environments/${env}`, { kind: 'repository', registry, repository: `${env}/{app}` }),
      );
    await ok(as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'prod' }] }));
    for (const [u, role] of [
      ['devon', 'developer'],
      ['vera', 'viewer'],
    ] as const)
      await ok(as('root', 'POST', `${P}/members`, { username: u, role, environments: null }));
    await ok(as('devon', 'POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:1.0` }));
    gated.addFault({
      method: 'PUT',
      pathMatch: /\/prod\/web\/manifests\//,
      action: { kind: 'status', status: 403, body: '{"errors":[{"code":"DENIED","message":"no push"}]}' },
      times: 1,
    });
    failed = (
      await ok(as('devon', 'POST', `${P}/applications/web/promotions`, { tag: '1.0', from: 'dev', to: ['prod'] }))
    ).id;
    assert.equal(await server.api.services.runner.runOne(), true);
    assert.equal((await as('devon', 'GET', `${P}/promotions/${failed}`)).body.targets[0].state, 'FAILED');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await gated?.stop();
    await reg?.stop();
  });

  test('a viewer sees why not; the requester retries the FAILED target and the page follows it to PROMOTED', async () => {
    const vera = await signedIn(browser, server, 'vera', `/projects/shop/promotions/${failed}`);
    await vera.getByText(/You cannot retry: retrying needs the developer, promoter or owner role for prod/).waitFor();
    assert.equal(await vera.getByRole('button', { name: /Retry/ }).isDisabled(), true);
    await vera.context().close();

    const devon = await signedIn(browser, server, 'devon', `/projects/shop/promotions/${failed}`);
    // The registry's own words: in the reasons, and as the timeline's failed step.
    await devon
      .locator('.reasons')
      .getByText(/DENIED: no push/)
      .waitFor();
    const timeline = devon.getByRole('list', { name: 'timeline of prod' });
    assert.match(await timeline.innerText(), /failed: .*DENIED: no push/);
    assert.deepEqual(await accessibilityViolations(devon), []);
    await screenshot(devon, 'promotion-failed');
    await devon.getByRole('button', { name: 'Retry prod' }).click();
    await devon.getByRole('heading', { name: /prod\s+.*queued/i }).waitFor();
    assert.equal(await devon.getByRole('button', { name: /Retry/ }).count(), 0, 'nothing FAILED any more');
    assert.equal(await server.api.services.runner.runOne(), true);
    await devon.getByRole('heading', { name: /prod\s+.*promoted/i }).waitFor({ timeout: 15_000 });
    // The story so far: it failed, devon retried it, and the copy then went through.
    await timeline.getByText(/promoted in/).waitFor({ timeout: 15_000 });
    const steps = await timeline.getByRole('listitem').evaluateAll((items) => items.map((li) => li.className));
    assert.deepEqual(steps, ['step-requested', 'step-failed', 'step-retried', 'step-promoting', 'step-promoted']);
    assert.match(await timeline.getByRole('listitem').nth(2).innerText(), /retried by devon \(it had failed: .*DENIED/);
    await devon.context().close();
  });
});
