/**
 * GET /api/v1/projects/{project}/board on both backends, against a real registry and the real promotion runner: a
 * build promoted into staging (by whom, which request, soaking there), a request into prod waiting for its second
 * approval, a newer build registered in dev ("newer build upstream"), a track-latest binding and a pin, a closed
 * promotion window. The board is one query whatever the number of applications: the statements counted for one
 * application and for five are the same. A viewer of the project reads it; a promoter of another project gets
 * nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildServer } from '../../src/api/server.ts';
import { createServices } from '../../src/api/services.ts';
import type { App, Services } from '../../src/api/context.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import type { Database } from '../../src/store/database.ts';
import { DAYS } from '../../src/automation/window.ts';
import { BACKENDS, freshDatabase } from '../helpers/backends.ts';
import { caller, LOOPBACK_CIDRS, type Call } from '../helpers/api.ts';
import { QueryCounter } from '../helpers/query-counter.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage, type TestManifest } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

const USERS = ['pat', 'pia', 'vera', 'oscar'] as const;
type User = (typeof USERS)[number] | 'root';
const EXTRA_APPS = ['api', 'cart', 'mail', 'search'];

let reg: TestRegistry;
const web1 = buildImage({ layers: [700] });
const web2 = buildImage({ layers: [710] });
const others = new Map<string, TestManifest>(EXTRA_APPS.map((app, i) => [app, buildImage({ layers: [720 + i] })]));
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', web1, { tag: '1.0' });
  await pushImage(reg.url, 'dev/web', web2, { tag: '2.0' });
  for (const [app, image] of others) await pushImage(reg.url, `dev/${app}`, image, { tag: '1.0' });
});
after(() => reg?.stop());

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const backend of BACKENDS) {
  void describe(`project board [${backend}]`, () => {
    const counter = new QueryCounter();
    let database: Database;
    let services: Services;
    let app: App;
    const tokens: Partial<Record<User, string>> = {};
    const call = (who: User, ...rest: Parameters<Call>) => caller(app, tokens[who] ?? '')(...rest);
    const ok = async (r: ReturnType<Call>, status = 300) => {
      const x = await r;
      assert.ok(x.status < status, JSON.stringify(x.body));
      return x.body;
    };
    // The clock soak and windows are judged by: moved forward to let a build leave staging, instead of sleeping.
    let skewMs = 0;
    const clock = (): Date => new Date(Date.now() + skewMs);
    const P = '/api/v1/projects/shop';
    const board = (who: User = 'root') => call(who, 'GET', `${P}/board`);
    const cell = async (application: string, environment: string) => {
      const b = await ok(board());
      const row = b.applications.find((a: { name: string }) => a.name === application);
      assert.ok(row, application);
      return row.cells.find((c: { environment: string }) => c.environment === environment);
    };
    const promoted = (id: string) =>
      until(`request ${id} PROMOTED`, async () => {
        const p = await ok(call('root', 'GET', `${P}/promotions/${id}`));
        const states = p.targets.map((t: { state: string }) => t.state);
        assert.ok(!states.some((s: string) => ['FAILED', 'REJECTED'].includes(s)), JSON.stringify(p.targets));
        return states.every((s: string) => s === 'PROMOTED') ? p : undefined;
      });
    const request = async (who: User, application: string, digest: string, from: string, to: string) =>
      ok(call(who, 'POST', `${P}/applications/${application}/promotions`, { digest, from, to: [to] }));
    let stagingRequest: string;
    let prodRequest: string;

    before(async () => {
      database = await freshDatabase(backend);
      services = createServices({ ...database, db: database.db.withPlugin(counter) }, new SecretBox(randomBytes(32)), {
        outbound: OutboundPolicy.fromList(LOOPBACK_CIDRS),
        clock,
      });
      await services.accounts.bootstrapAdmin('board-password-1');
      app = await buildServer(services);
      const admin = await services.accounts.login('admin', 'board-password-1', '127.0.0.1');
      tokens.root = (await services.accounts.createToken({ userId: admin.id, username: 'admin' }, 't')).token;
      for (const username of USERS) {
        const user = await services.accounts.createUser(
          { username: 'admin' },
          { username, password: `${username}-password-1` },
        );
        tokens[username] = (await services.accounts.createToken({ userId: user.id, username }, 't')).token;
      }
      await ok(call('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` }));
      for (const project of ['shop', 'other']) {
        await ok(call('root', 'POST', '/api/v1/projects', { name: project }));
        await ok(call('root', 'POST', `/api/v1/projects/${project}/applications`, { name: 'web' }));
      }
      for (const env of ['dev', 'staging', 'prod']) {
        await ok(call('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: `${env}/` }));
        await ok(
          call('root', 'PUT', `${P}/environments/${env}`, {
            kind: 'repository',
            registry: 'local',
            repository: `${env}/{app}`,
            ...(env === 'staging' ? { soakSeconds: 3600 } : {}),
          }),
        );
      }
      await ok(
        call('root', 'PUT', `${P}/pipeline`, {
          edges: [
            { from: 'dev', to: 'staging' },
            { from: 'staging', to: 'prod' },
          ],
        }),
      );
      for (const [project, username, role] of [
        ['shop', 'pat', 'promoter'],
        ['shop', 'pia', 'promoter'],
        ['shop', 'vera', 'viewer'],
        ['other', 'oscar', 'promoter'],
      ] as const)
        await ok(call('root', 'POST', `/api/v1/projects/${project}/members`, { username, role }));
      await ok(call('root', 'POST', '/api/v1/policies', { name: 'prod-gate', approverCount: 2 }));
      await ok(
        call('root', 'POST', '/api/v1/policies/prod-gate/apply', {
          applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
        }),
      );
      await services.runner.start();

      // web 1.0: registered in dev, promoted into staging by pat, requested into prod once it soaked (an hour
      // later on the moved clock), approved once of twice; then web 2.0 registered in dev.
      await ok(call('root', 'POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:1.0` }));
      stagingRequest = (await request('pat', 'web', web1.digest, 'dev', 'staging')).id;
      await promoted(stagingRequest);
      skewMs = 2 * 3600_000;
      const prod = await request('pat', 'web', web1.digest, 'staging', 'prod');
      assert.equal(prod.targets[0].state, 'AWAITING_APPROVAL', JSON.stringify(prod.targets));
      prodRequest = prod.id;
      await ok(call('pia', 'POST', `${P}/promotions/${prodRequest}/approve`, { comment: 'one of two' }));
      skewMs = 0;
      await ok(call('root', 'POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:2.0` }));
    });
    after(async () => {
      await services?.runner.stop();
      await app?.close();
      await database?.close();
    });

    let oneApplication: number;
    test('the board of one application: every cell as the data says', async (t) => {
      oneApplication = await counter.during(() => ok(board()));
      t.diagnostic(`GET …/board, 1 application: ${oneApplication} statements (authentication included)`);
      assert.equal(await counter.during(() => services.board.get('shop')), 2, 'the board itself is two queries');
      const b = await ok(board());
      assert.deepEqual(
        b.environments.map((e: { name: string; soakSeconds: number }) => [e.name, e.soakSeconds]),
        [
          ['dev', 0],
          ['staging', 3600],
          ['prod', 0],
        ],
      );
      assert.deepEqual(
        b.applications.map((a: { name: string }) => a.name),
        ['web'],
      );

      const dev = await cell('web', 'dev');
      assert.deepEqual(
        [dev.current.digest, dev.current.tag, dev.current.by, dev.current.request],
        [web2.digest, '2.0', 'admin', null],
        'the newest registration in dev, by whoever registered it',
      );
      assert.equal(dev.newerUpstream, null);

      const staging = await cell('web', 'staging');
      assert.deepEqual(
        [staging.current.digest, staging.current.by, staging.current.request],
        [web1.digest, 'pat', stagingRequest],
      );
      assert.equal(
        Date.parse(staging.soak.until) - Date.parse(staging.current.since),
        3600_000,
        'it may leave an hour after it arrived',
      );
      assert.equal(staging.soak.soaking, true);
      assert.equal(staging.newerUpstream.environment, 'dev');
      assert.equal(staging.newerUpstream.digest, web2.digest);
      assert.equal(staging.newerUpstream.tag, '2.0');
      assert.deepEqual(staging.pending, []);

      const prod = await cell('web', 'prod');
      assert.equal(prod.current, null);
      assert.deepEqual(prod.window, { open: true, opensAt: null, timeZone: null });
      assert.equal(prod.newerUpstream.digest, web1.digest, 'staging holds a build prod does not');
      assert.equal(prod.newerUpstream.soaking, true, 'on the board clock, web 1.0 soaks in staging again');
      assert.deepEqual(
        prod.pending.map((p: { request: string; state: string; requestedBy: string; approvals: unknown }) => [
          p.request,
          p.state,
          p.requestedBy,
          p.approvals,
        ]),
        [[prodRequest, 'AWAITING_APPROVAL', 'pat', { have: 1, need: 2 }]],
      );
    });

    test('five applications with bindings, a pin and a closed window: the same number of statements', async (t) => {
      for (const [application, image] of others) {
        await ok(call('root', 'POST', `${P}/applications`, { name: application }));
        await ok(
          call('root', 'POST', `${P}/applications/${application}/artifacts`, {
            reference: `${reg.host}/dev/${application}:1.0`,
          }),
        );
        await promoted((await request('pat', application, image.digest, 'dev', 'staging')).id);
      }
      const api = others.get('api')!;
      // api is pinned in staging to the build it holds (no promotion to open); cart tracks the latest in prod.
      const pin = await ok(
        call('pat', 'PUT', `${P}/applications/api/bindings/staging`, { mode: 'pin', digest: api.digest }),
      );
      assert.equal(pin.promotion, null);
      await ok(call('pat', 'PUT', `${P}/applications/cart/bindings/prod`, { mode: 'track-latest' }));
      // prod opens only at midnight (UTC) the day after tomorrow.
      const opens = new Date(
        Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 2),
      );
      const day = DAYS[(opens.getUTCDay() + 6) % 7];
      await ok(
        call('root', 'PUT', `${P}/environments/prod/windows`, {
          windows: [{ days: [day], start: '00:00', end: '00:01', timeZone: 'UTC' }],
        }),
      );

      const five = await counter.during(() => ok(board()));
      t.diagnostic(`GET …/board, 5 applications: ${five} statements (1 application: ${oneApplication})`);
      assert.equal(five, oneApplication);

      const b = await ok(board());
      assert.deepEqual(
        b.applications.map((a: { name: string }) => a.name),
        ['api', 'cart', 'mail', 'search', 'web'],
      );
      const staging = await cell('api', 'staging');
      assert.deepEqual(staging.binding.mode, 'pin');
      assert.deepEqual(staging.binding.pinnedDigest, api.digest);
      assert.equal(staging.binding.updatedBy, 'pat');
      assert.equal(staging.current.digest, api.digest);
      assert.equal(staging.newerUpstream, null, 'dev holds the same build');
      const cart = await cell('cart', 'prod');
      assert.equal(cart.binding.mode, 'track-latest');
      assert.equal(cart.binding.pinnedDigest, null);
      assert.deepEqual(cart.pending, [], 'the build in staging still soaks: track-latest opened nothing');
      assert.deepEqual(cart.window, { open: false, opensAt: opens.toISOString(), timeZone: 'UTC' });
      assert.deepEqual((await cell('web', 'prod')).window, {
        open: false,
        opensAt: opens.toISOString(),
        timeZone: 'UTC',
      });
      assert.equal((await cell('mail', 'dev')).binding, null);
    });

    test('a viewer of the project reads the board; a promoter of another project gets nothing of it', async () => {
      const viewed = await board('vera');
      assert.equal(viewed.status, 200, JSON.stringify(viewed.body));
      const { at: _at, ...seen } = viewed.body;
      const { at: _rootAt, ...whole } = await ok(board());
      assert.deepEqual(seen, whole);
      const foreign = await board('oscar');
      assert.ok(foreign.status === 403 || foreign.status === 404, JSON.stringify(foreign.body));
      assert.equal(foreign.body.applications, undefined);
      assert.doesNotMatch(JSON.stringify(foreign.body), /sha256:/);
      // oscar's own project has a board of its own, with nothing of shop's in it.
      const own = await ok(call('oscar', 'GET', '/api/v1/projects/other/board'));
      assert.deepEqual(
        own.applications.map((a: { name: string; cells: unknown[] }) => [a.name, a.cells]),
        [['web', []]],
      );
      const missing = await call('root', 'GET', '/api/v1/projects/nowhere/board');
      assert.equal(missing.status, 404, JSON.stringify(missing.body));
    });
  });
}
