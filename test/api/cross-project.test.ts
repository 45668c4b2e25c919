/**
 * Projects are hard boundaries, checked as a matrix: the owner of project alpha (the strongest role short of admin)
 * calls every route of the server on project beta's resources, with beta's real names and ids, and gets 403 or 404
 * with nothing of beta's in the answer; every list that is not per project answers without beta's data. The routes
 * come from the server itself, so a new route is covered the day it is added.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
const alphaImage = buildImage({ layers: [700] });
const betaImage = buildImage({ layers: [900] });
const betaBad = buildImage({ layers: [1100] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'alpha/dev/web', alphaImage, { tag: '1.0' });
  await pushImage(reg.url, 'beta/dev/web', betaImage, { tag: '1.0' });
  await pushImage(reg.url, 'beta/dev/web', betaBad, { tag: 'bad' });
});
after(() => reg?.stop());

function ok(r: { status: number; body: unknown }, want = 300): void {
  assert.ok(r.status < want, `${r.status} ${JSON.stringify(r.body)}`);
}

for (const backend of BACKENDS) {
  void describe(`cross-project matrix [${backend}]`, () => {
    let api: TestApi;
    let root: Call;
    let ownA: Call;
    let ownAToken: string;
    // What beta has, by the route parameter that names it.
    const beta = {
      promotion: '',
      webhook: '',
      webhookUrl: 'http://127.0.0.1:9/beta-secret-hook',
      rule: 'beta-rule',
      event: 'beta-push-event-7f3a',
      pushTag: 'beta-pushed-tag',
      watch: '',
    };
    const HOOK_SECRET = 'cross-project-hook-secret-0123456789';

    before(async () => {
      api = await startApi(backend);
      root = caller(api.app, await api.tokenFor('root', { admin: true }));
      ownAToken = await api.tokenFor('own-a');
      ownA = caller(api.app, ownAToken);
      ok(await root('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
      for (const project of ['alpha', 'beta']) {
        const P = `/api/v1/projects/${project}`;
        ok(await root('POST', '/api/v1/projects', { name: project }));
        ok(await root('POST', `${P}/applications`, { name: 'web' }));
        ok(await root('PUT', `${P}/namespaces`, { registry: 'local', prefix: `${project}/` }));
        for (const env of ['dev', 'prod']) {
          ok(
            await root('PUT', `${P}/environments/${env}`, {
              kind: 'repository',
              registry: 'local',
              repository: `${project}/${env}/{app}`,
            }),
          );
        }
        ok(await root('PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'prod' }] }));
        ok(await root('POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/${project}/dev/web:1.0` }));
      }
      ok(await root('POST', '/api/v1/projects/alpha/members', { username: 'own-a', role: 'owner' }));
      // beta: a promotion waiting for approval, a webhook, a rule, a binding, a quarantined digest.
      ok(await root('POST', '/api/v1/policies', { name: 'beta-gate', approverCount: 1 }));
      ok(
        await root('POST', '/api/v1/policies/beta-gate/apply', {
          applicationEnvironments: [{ project: 'beta', application: 'web', environment: 'prod' }],
        }),
      );
      const promoted = await root('POST', '/api/v1/projects/beta/applications/web/promotions', {
        digest: betaImage.digest,
        from: 'dev',
        to: ['prod'],
      });
      ok(promoted);
      beta.promotion = promoted.body.id;
      const hook = await root('POST', '/api/v1/projects/beta/webhooks', { url: beta.webhookUrl });
      ok(hook);
      beta.webhook = hook.body.webhook?.id ?? hook.body.id;
      ok(
        await root('POST', '/api/v1/projects/beta/rules', {
          name: beta.rule,
          from: 'dev',
          to: 'prod',
          mode: 'request',
          criteria: [{ field: 'tag', op: 'startsWith', value: 'v' }],
        }),
      );
      ok(
        await root('POST', '/api/v1/projects/beta/applications/web/artifacts', {
          reference: `${reg.host}/beta/dev/web:bad`,
        }),
      );
      ok(await root('POST', '/api/v1/quarantine', { digest: betaBad.digest, reason: 'beta-only secret reason' }));
      // A push event of each project, in through the registry's generic notification hook (as a registry sends it),
      // and a watch of beta's repository: what the lists spanning projects must keep apart.
      ok(await root('PUT', '/api/v1/registries/local/hooks/generic', { secret: HOOK_SECRET }));
      for (const [repository, tag, digest, id] of [
        ['beta/dev/web', beta.pushTag, betaImage.digest, beta.event],
        ['alpha/dev/web', 'alpha-pushed-tag', alphaImage.digest, 'alpha-push-event'],
      ]) {
        const pushed = await api.app.inject({
          method: 'POST',
          url: '/api/v1/hooks/generic',
          headers: { authorization: `Bearer ${HOOK_SECRET}`, 'content-type': 'application/json' },
          payload: { repository, tag, digest, id },
        });
        ok({ status: pushed.statusCode, body: pushed.body });
      }
      const watch = await root('POST', '/api/v1/watches', { repository: `local/beta/dev/web` });
      ok(watch);
      beta.watch = watch.body.id;
    });
    after(() => api?.close());

    /** Every trace of beta's data that must never reach alpha's owner. */
    const secrets = () => [
      betaImage.digest,
      betaBad.digest,
      beta.promotion,
      beta.webhookUrl,
      'beta-only secret reason',
      beta.event,
      beta.pushTag,
      beta.watch,
    ];
    const leaks = (body: string) => secrets().filter((s) => s !== '' && body.includes(s));

    test('alpha owner on every project route of beta: 403 or 404, never beta data', async () => {
      assert.ok(beta.promotion && beta.webhook, 'fixtures made');
      const value = (url: string, name: string): string => {
        switch (name) {
          case 'project':
            return 'beta';
          case 'app':
            return 'web';
          case 'env':
            return 'prod';
          case 'digest':
            return betaImage.digest;
          case 'id':
            return url.includes('/webhooks/') ? beta.webhook : beta.promotion;
          case 'name':
            return beta.rule;
          case 'username':
            return 'root';
          case 'role':
            return 'owner';
          default:
            return 'x';
        }
      };
      const routes = api.app.declaredRoutes.filter((r) => r.url.includes(':project'));
      assert.ok(routes.length >= 30, `${routes.length} project routes`);
      for (const route of routes) {
        if (route.url === '/api/v1/events/stream') continue;
        const url = route.url.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(value(route.url, name)));
        const body = route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: {} };
        const res = await api.app.inject({
          method: route.method as 'GET',
          url,
          headers: { authorization: `Bearer ${ownAToken}` },
          ...body,
        });
        const where = `${route.method} ${url}: ${res.statusCode} ${res.body.slice(0, 160)}`;
        assert.ok(res.statusCode === 403 || res.statusCode === 404, where);
        assert.deepEqual(leaks(res.body), [], where);
      }
      // Nothing of beta changed on the way: its promotion still waits, its webhook and rule still exist.
      const still = await root('GET', `/api/v1/projects/beta/promotions/${beta.promotion}`);
      assert.equal(still.body.targets[0].state, 'AWAITING_APPROVAL');
      ok(await root('GET', `/api/v1/projects/beta/rules/${beta.rule}`));
    });

    test('alpha owner on every list that spans projects: answers without beta data', async () => {
      const lists = api.app.declaredRoutes.filter(
        (r) =>
          r.method === 'GET' &&
          !r.url.includes(':') &&
          r.url !== '/api/v1/events/stream' &&
          (r.permission.kind === 'authenticated' || r.permission.kind === 'project'),
      );
      assert.ok(lists.length >= 5, lists.map((r) => r.url).join(' '));
      for (const route of lists) {
        const res = await api.app.inject({
          method: 'GET',
          url: route.url,
          headers: { authorization: `Bearer ${ownAToken}` },
        });
        const where = `GET ${route.url}: ${res.statusCode} ${res.body.slice(0, 200)}`;
        assert.ok(res.statusCode < 500, where);
        assert.deepEqual(leaks(res.body), [], where);
      }
      // The admin does see beta's quarantine (the check above is not vacuous).
      const all = await root('GET', '/api/v1/quarantine');
      assert.deepEqual(
        all.body.items.map((q: { digest: string }) => q.digest),
        [betaBad.digest],
      );
      const mine = await ownA('GET', '/api/v1/quarantine');
      assert.deepEqual(mine.body.items, []);
    });

    test("push events and watches: alpha's member sees alpha's and none of beta's; beta's member sees beta's", async () => {
      assert.ok(beta.watch, 'the watch was made');
      const ownB = caller(api.app, await api.tokenFor('view-b'));
      ok(await root('POST', '/api/v1/projects/beta/members', { username: 'view-b', role: 'viewer' }));
      const events = async (who: Call) => {
        const r = await who('GET', '/api/v1/events?limit=1000');
        ok(r);
        return r.body.items as { repository: string; tag?: string; digest: string }[];
      };
      const watches = async (who: Call) => {
        const r = await who('GET', '/api/v1/watches');
        ok(r);
        return r.body.items as { id: string; repository: string }[];
      };
      // The seed is there: the admin sees both events and beta's watch.
      const all = await events(root);
      assert.ok(
        all.some((e) => e.tag === beta.pushTag && e.digest === betaImage.digest),
        JSON.stringify(all),
      );
      assert.ok(
        all.some((e) => e.tag === 'alpha-pushed-tag'),
        JSON.stringify(all),
      );
      assert.deepEqual(
        (await watches(root)).map((w) => w.id),
        [beta.watch],
      );
      // Beta's member sees beta's event and watch (the positive control), and nothing of alpha's.
      const theirs = await events(ownB);
      assert.deepEqual(
        theirs.map((e) => [e.repository, e.tag]),
        [['beta/dev/web', beta.pushTag]],
      );
      assert.deepEqual(
        (await watches(ownB)).map((w) => w.id),
        [beta.watch],
      );
      // Alpha's owner sees alpha's event only, and no watch.
      const mine = await events(ownA);
      assert.deepEqual(
        mine.map((e) => [e.repository, e.tag]),
        [['alpha/dev/web', 'alpha-pushed-tag']],
      );
      assert.deepEqual(await watches(ownA), []);
      for (const body of [JSON.stringify(mine), JSON.stringify(await watches(ownA))])
        assert.deepEqual(leaks(body), [], body);
    });

    test("alpha owner on routes outside projects that name beta's objects: beta's owner's token, beta's policy", async () => {
      const ownB = caller(api.app, await api.tokenFor('own-b'));
      ok(await root('POST', '/api/v1/projects/beta/members', { username: 'own-b', role: 'owner' }));
      const tokens = await ownB('GET', '/api/v1/tokens');
      ok(tokens);
      const id = tokens.body.items[0].id as string;
      const revoke = await ownA('DELETE', `/api/v1/tokens/${id}`);
      assert.equal(revoke.status, 404, JSON.stringify(revoke.body));
      ok(await ownB('GET', '/api/v1/projects/beta')); // beta's owner's token still works
      // A policy is global, where it applies is not: beta's binding is not shown to alpha's owner.
      const policy = await ownA('GET', '/api/v1/policies/beta-gate');
      ok(policy);
      assert.deepEqual(policy.body.appliesTo, []);
      assert.equal((await root('GET', '/api/v1/policies/beta-gate')).body.appliesTo.length, 1);
    });

    test("alpha owner cannot reach beta through alpha's own resources", async () => {
      const A = '/api/v1/projects/alpha';
      // An environment of alpha pointed at beta's repository.
      const env = await ownA('PUT', `${A}/environments/beta-prod`, {
        kind: 'repository',
        registry: 'local',
        repository: 'beta/prod/{app}',
      });
      assert.ok(env.status === 403 || env.status === 400 || env.status === 409, JSON.stringify(env.body));
      // beta's image registered as an alpha artifact.
      const art = await ownA('POST', `${A}/applications/web/artifacts`, { reference: `${reg.host}/beta/dev/web:1.0` });
      assert.ok(art.status >= 400 && art.status < 500, JSON.stringify(art.body));
      // beta's digest promoted through alpha (it is not alpha's artifact).
      const prom = await ownA('POST', `${A}/applications/web/promotions`, {
        digest: betaImage.digest,
        from: 'dev',
        to: ['prod'],
      });
      assert.ok(prom.status >= 400 && prom.status < 500, JSON.stringify(prom.body));
      // Only what the caller sent may come back (beta's digest, named in the refused request).
      const told = JSON.stringify([env.body, art.body, prom.body]).replaceAll(betaImage.digest, '');
      assert.deepEqual(leaks(told), [], told);
    });

    test("an environment of alpha that names beta's repository (data from before namespaces) is refused where the bytes move", async () => {
      const A = '/api/v1/projects/alpha';
      ok(
        await root('PUT', `${A}/environments/legacy`, {
          kind: 'repository',
          registry: 'local',
          repository: 'alpha/legacy/{app}',
        }),
      );
      ok(
        await root('PUT', `${A}/pipeline`, {
          edges: [
            { from: 'dev', to: 'prod' },
            { from: 'dev', to: 'legacy' },
          ],
        }),
      );
      // As an environment made before projects owned namespaces would be: pointing into beta's.
      await api.database.db
        .updateTable('environments')
        .set({ repository_template: 'beta/prod/{app}' })
        .where('name', '=', 'legacy')
        .execute();
      const r = await ownA('POST', `${A}/applications/web/promotions`, {
        digest: alphaImage.digest,
        from: 'dev',
        to: ['legacy'],
      });
      ok(r);
      assert.equal(await api.services.runner.runOne(), true);
      const target = (await ownA('GET', `${A}/promotions/${r.body.id}`)).body.targets[0];
      assert.equal(target.state, 'REJECTED');
      assert.match(target.reasons.join(' '), /outside project alpha's namespaces: legacy \(local\/beta\/prod\/web\)/);
      const head = await fetch(`${reg.url}/v2/beta/prod/web/manifests/${alphaImage.digest}`, { method: 'HEAD' });
      assert.equal(head.status, 404, "nothing of alpha's was written into beta's repository");
    });
  });
}
