/**
 * Single sign-on against a real OpenID provider (oidc-provider on loopback), the whole authorization-code + PKCE flow
 * over real HTTP, on both backends: the admin's configuration (secret never answered, issuer checked by discovery and
 * the outbound policy, audited); a first sign-in creates the user with the roles their groups map to and lands on the
 * deep link; a group change is reflected at the next sign-in while an admin's own grant stays; no mapped group, no
 * project; a user of project A cannot see project B; a provider account named like the local admin gets a name of
 * its own; and the refusals: a replayed callback, a tampered state, a wrong nonce, a wrong issuer, a flow finished in
 * another browser, a denied consent, a returnTo off-site. Then the CLI's loopback flow: the one-time code goes to
 * 127.0.0.1 only and is worth a token only with the CLI's verifier, once.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { ADMIN_PASSWORD, caller, LOOPBACK_CIDRS, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { buildServer } from '../../src/api/server.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { HttpBrowser } from '../helpers/http-browser.ts';
import { createServices } from '../../src/api/services.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { startOpenIdProvider, type OpenIdProvider } from '../harness/openid-provider.ts';

const GROUP_ROLES = ['team-a:shop:promoter', 'team-b:other:developer', 'ops:*:admin', 'team-a:gone:viewer'];

for (const backend of BACKENDS) {
  void describe(`single sign-on [${backend}]`, () => {
    let api: TestApi;
    let hoist: string;
    let callback: string;
    let op: OpenIdProvider;
    let admin: Call;

    before(async () => {
      api = await startApi(backend);
      await api.app.listen({ port: 0, host: '127.0.0.1' });
      hoist = `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`;
      callback = `${hoist}/api/v1/sso/callback`;
      op = await startOpenIdProvider({ redirectUris: [callback] });
      op.accounts.set('alice-sub', { preferred_username: 'alice', email: 'alice@example.com', groups: ['team-a'] });
      op.accounts.set('bob-sub', { preferred_username: 'bob', groups: ['team-b', 'unrelated'] });
      op.accounts.set('carol-sub', { preferred_username: 'carol', groups: ['nobody-maps-this'] });
      op.accounts.set('olga-sub', { preferred_username: 'admin', groups: ['ops'] });
      admin = caller(api.app, await api.tokenFor('admin', { admin: true }));
      for (const name of ['shop', 'other'])
        assert.equal((await admin('POST', '/api/v1/projects', { name })).status, 201);
    });
    after(async () => {
      await api?.close();
      await op?.stop();
    });

    const configure = () =>
      admin('PUT', '/api/v1/sso', {
        issuer: op.issuer,
        clientId: op.clientId,
        clientSecret: op.clientSecret,
        displayName: 'Test IdP',
        scopes: ['openid', 'profile', 'email', 'groups'],
        groupRoles: GROUP_ROLES,
      });

    /** A whole sign-in in a fresh browser; answers the browser and the callback's answer. */
    async function signIn(login: string, returnTo = '/projects/shop') {
      const browser = new HttpBrowser();
      const start = await browser.request('GET', `${hoist}/api/v1/sso/login?returnTo=${encodeURIComponent(returnTo)}`);
      assert.equal(start.status, 303, start.text);
      assert.ok(start.location?.startsWith(op.issuer), start.location);
      const back = await browser.atProvider(start.location!, login, { callback });
      const done = await browser.request('GET', back);
      return { browser, back, done };
    }
    const me = async (browser: HttpBrowser) =>
      JSON.parse((await browser.request('GET', `${hoist}/api/v1/me`)).text) as {
        username: string;
        isAdmin: boolean;
        via: string;
        memberships: Array<{ project: string; role: string }>;
        error?: unknown;
      };
    const refusal = (answer: { status: number; location: string | undefined }) => {
      assert.equal(answer.status, 303);
      const to = new URL(answer.location ?? '');
      assert.equal(to.origin, hoist);
      assert.equal(to.pathname, '/sign-in');
      return to.searchParams.get('sso_error') ?? '';
    };

    test('an admin configures the provider: checked by discovery, secret sealed and never answered, audited', async () => {
      const viewer = caller(api.app, await api.tokenFor('vic'));
      assert.equal(
        (await viewer('PUT', '/api/v1/sso', { issuer: op.issuer, clientId: 'x', groupRoles: [] })).status,
        403,
      );
      const status0 = await fetch(`${hoist}/api/v1/sso/status`);
      assert.deepEqual(await status0.json(), { enabled: false, displayName: null, loginUrl: null });

      const metadata = await admin('PUT', '/api/v1/sso', {
        issuer: 'http://169.254.169.254/',
        clientId: 'x',
        groupRoles: [],
      });
      assert.equal(metadata.status, 400);
      assert.match(metadata.body.error.message, /issuer: .*never allowed/);
      const bad = await admin('PUT', '/api/v1/sso', {
        issuer: op.issuer,
        clientId: 'x',
        groupRoles: ['team:shop:boss'],
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /role must be one of owner, promoter, developer, viewer/);
      // A server whose discovery document names another issuer (a mix-up): refused when saved.
      const impostor = createServer((_req, res) => {
        void fetch(`${op.issuer}/.well-known/openid-configuration`)
          .then((r) => r.text())
          .then((body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
      });
      await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
      const wrong = await admin('PUT', '/api/v1/sso', {
        issuer: `http://127.0.0.1:${(impostor.address() as { port: number }).port}`,
        clientId: op.clientId,
        groupRoles: [],
      });
      impostor.close();
      assert.equal(wrong.status, 400);
      assert.match(wrong.body.error.message, /issuer/);

      const put = await configure();
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.hasSecret, true);
      assert.equal(JSON.stringify(put.body).includes(op.clientSecret), false);
      const got = await admin('GET', '/api/v1/sso');
      assert.deepEqual(got.body.groupRoles, GROUP_ROLES);
      assert.equal(JSON.stringify(got.body).includes(op.clientSecret), false);
      const stored = await sql<{ secret_enc: string }>`SELECT secret_enc FROM sso_config`.execute(api.database.db);
      assert.equal(stored.rows[0]!.secret_enc.includes(op.clientSecret), false, 'sealed at rest');
      assert.deepEqual(await (await fetch(`${hoist}/api/v1/sso/status`)).json(), {
        enabled: true,
        displayName: 'Test IdP',
        loginUrl: '/api/v1/sso/login',
      });
      const audit = await admin('GET', '/api/v1/audit?objectType=sso');
      const entry = audit.body.items.find((e: { action: string }) => e.action === 'sso.configure');
      assert.ok(entry, 'sso.configure audited');
      assert.equal(JSON.stringify(entry).includes(op.clientSecret), false);
    });

    test('a first sign-in creates the user with the mapped roles, starts a session, and lands on the deep link', async () => {
      const { browser, done } = await signIn('alice-sub', '/projects/shop?tab=board');
      assert.equal(done.status, 303);
      assert.equal(done.location, `${hoist}/projects/shop?tab=board`);
      assert.match(done.headers.get('set-cookie') ?? '', /hoist_session=[^;]+; HttpOnly; SameSite=Strict/);
      const alice = await me(browser);
      assert.equal(alice.username, 'alice');
      assert.equal(alice.via, 'session');
      assert.equal(alice.isAdmin, false);
      assert.deepEqual(alice.memberships, [{ project: 'shop', role: 'promoter', environments: null }]);
      // No password was made up for her: a password login never succeeds.
      const login = await fetch(`${hoist}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: 'sso' }),
      });
      assert.equal(login.status, 401);
      const audit = await admin('GET', '/api/v1/audit?objectType=user&objectId=alice');
      const signedIn = audit.body.items.find((e: { action: string }) => e.action === 'sso.sign-in');
      assert.ok(signedIn, 'sso.sign-in audited');
      assert.equal(signedIn.summary.created, true);
      assert.deepEqual(signedIn.summary.added, ['shop:promoter']);
      assert.deepEqual(signedIn.summary.unknownProjects, ['gone']);
      assert.ok(audit.body.items.some((e: { action: string }) => e.action === 'user.create'));
      const users = (await admin('GET', '/api/v1/users')).body.items as Array<{ username: string; external: boolean }>;
      assert.equal(users.find((u) => u.username === 'alice')?.external, true, 'marked external');
      assert.equal(users.find((u) => u.username === 'admin')?.external, false);
    });

    test('a group change is reflected at the next sign-in; a membership an admin granted stays', async () => {
      assert.equal(
        (await admin('POST', '/api/v1/projects/other/members', { username: 'alice', role: 'viewer' })).status,
        201,
      );
      op.accounts.set('alice-sub', { preferred_username: 'alice', groups: ['team-b'] });
      const { browser } = await signIn('alice-sub');
      const alice = await me(browser);
      assert.equal(alice.username, 'alice', 'the same user, found by issuer and subject');
      assert.deepEqual(
        alice.memberships.map((m) => `${m.project}:${m.role}`).sort(),
        ['other:developer', 'other:viewer'],
        'shop:promoter gone with team-a; the admin’s other:viewer kept',
      );
      op.accounts.set('alice-sub', { preferred_username: 'alice', groups: ['team-a'] });
      const again = await me((await signIn('alice-sub')).browser);
      assert.deepEqual(again.memberships.map((m) => `${m.project}:${m.role}`).sort(), [
        'other:viewer',
        'shop:promoter',
      ]);
    });

    test('a user in no mapped group signs in to no project', async () => {
      const { browser } = await signIn('carol-sub');
      const carol = await me(browser);
      assert.equal(carol.username, 'carol');
      assert.deepEqual(carol.memberships, []);
      const projects = JSON.parse((await browser.request('GET', `${hoist}/api/v1/projects`)).text);
      assert.deepEqual(projects.items, []);
    });

    test('second actor: a user mapped to project A cannot see project B', async () => {
      const bob = (await signIn('bob-sub')).browser;
      const alice = (await signIn('alice-sub')).browser;
      const bobsOther = await bob.request('GET', `${hoist}/api/v1/projects/other`);
      assert.equal(bobsOther.status, 200);
      assert.equal((await bob.request('GET', `${hoist}/api/v1/projects/shop`)).status, 403);
      assert.deepEqual(
        JSON.parse((await bob.request('GET', `${hoist}/api/v1/projects`)).text).items.map(
          (p: { name: string }) => p.name,
        ),
        ['other'],
      );
      // alice, a promoter of shop, may not change its applications (owner only).
      const write = await fetch(`${hoist}/api/v1/projects/shop/applications`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          cookie: `hoist_session=${alice.cookie('127.0.0.1', 'hoist_session')}`,
        },
        body: JSON.stringify({ name: 'x' }),
      });
      assert.equal(write.status, 403);
      assert.match(await write.text(), /roles owner on project/);
    });

    test('a provider account named like the local admin gets a name of its own; admin comes from its group', async () => {
      const { browser } = await signIn('olga-sub');
      const olga = await me(browser);
      assert.notEqual(olga.username, 'admin');
      assert.equal(olga.isAdmin, true, 'ops:*:admin');
      const local = await api.app.inject({
        method: 'POST',
        url: '/api/v1/login',
        payload: { username: 'admin', password: ADMIN_PASSWORD },
      });
      assert.equal(local.statusCode, 200, 'the local bootstrap admin still signs in');
      op.accounts.set('olga-sub', { preferred_username: 'admin', groups: [] });
      assert.equal((await me((await signIn('olga-sub')).browser)).isAdmin, false, 'out of ops, no longer admin');
    });

    test('a replayed callback, a tampered state and a flow finished in another browser are refused', async () => {
      const { browser, back, done } = await signIn('bob-sub');
      assert.equal(done.status, 303);
      const replay = await browser.request('GET', back);
      assert.match(refusal(replay), /used already or has expired/);
      assert.equal(replay.headers.get('set-cookie'), null, 'no session for a replay');

      const second = new HttpBrowser();
      const start = await second.request('GET', `${hoist}/api/v1/sso/login?returnTo=/projects`);
      const back2 = new URL(await second.atProvider(start.location!, 'bob-sub', { callback }));
      back2.searchParams.set('state', `${back2.searchParams.get('state')}x`);
      assert.match(refusal(await second.request('GET', back2.href)), /used already or has expired/);

      const third = new HttpBrowser();
      const start3 = await third.request('GET', `${hoist}/api/v1/sso/login?returnTo=/projects`);
      const back3 = await third.atProvider(start3.location!, 'bob-sub', { callback });
      const elsewhere = await new HttpBrowser().request('GET', back3);
      const message = refusal(elsewhere);
      assert.match(message, /started in another browser/);
      assert.equal(new URL(elsewhere.location!).searchParams.get('next'), '/projects', 'back where it was going');
    });

    test('a wrong nonce and a wrong issuer in the answer are refused', async () => {
      const browser = new HttpBrowser();
      const start = await browser.request('GET', `${hoist}/api/v1/sso/login`);
      const back = await browser.atProvider(start.location!, 'bob-sub', { callback });
      await sql`UPDATE sso_flows SET nonce = 'not-the-nonce-sent'`.execute(api.database.db);
      assert.match(refusal(await browser.request('GET', back)), /did not verify.*nonce/i);

      const start2 = await browser.request('GET', `${hoist}/api/v1/sso/login`);
      const back2 = new URL(await browser.atProvider(start2.location!, 'bob-sub', { callback }));
      assert.equal(back2.searchParams.get('iss'), op.issuer, 'the provider names itself (RFC 9207)');
      back2.searchParams.set('iss', 'http://127.0.0.1:1/');
      assert.match(refusal(await browser.request('GET', back2.href)), /did not verify.*iss/i);

      // A code exchanged without the verifier its challenge was made from: the provider refuses it (PKCE).
      const start3 = await browser.request('GET', `${hoist}/api/v1/sso/login`);
      const back3 = await browser.atProvider(start3.location!, 'bob-sub', { callback });
      await sql`UPDATE sso_flows SET code_verifier = ${randomBytes(32).toString('base64url')}`.execute(api.database.db);
      assert.match(refusal(await browser.request('GET', back3)), /did not verify.*invalid_grant/i);
    });

    test('the issuer is reached only where the outbound policy allows, checked when saved and at connect time', async () => {
      // Services with the default policy (public addresses only) over the same database.
      const strict = createServices(api.database, new SecretBox(randomBytes(32)));
      const put = (issuer: string) =>
        strict.sso.put({ username: 'admin' }, { issuer, clientId: op.clientId, clientSecret: null, groupRoles: [] });
      await assert.rejects(put(op.issuer), /issuer: .*loopback or private/);
      // A name is checked where it is resolved: localhost passes the URL check and is refused on connecting.
      await assert.rejects(put(op.issuer.replace('127.0.0.1', 'localhost')), /resolves to .*loopback or private/);
    });

    test('second replica: a sign-in started on one server finishes on another sharing the database', async () => {
      // Same database and key, as replicas behind one load balancer are; the provider knows the first one's URL.
      const other = await buildServer(
        createServices(api.database, api.box, { outbound: OutboundPolicy.fromList(LOOPBACK_CIDRS) }),
      );
      await other.listen({ port: 0, host: '127.0.0.1' });
      try {
        const browser = new HttpBrowser();
        const start = await browser.request('GET', `${hoist}/api/v1/sso/login?returnTo=/projects/other`);
        const back = new URL(await browser.atProvider(start.location!, 'bob-sub', { callback }));
        back.port = String((other.server.address() as { port: number }).port);
        const done = await browser.request('GET', back.href);
        assert.equal(done.status, 303, done.location);
        assert.equal(new URL(done.location!).pathname, '/projects/other');
        assert.equal((await me(browser)).username, 'bob');
      } finally {
        await other.close();
      }
    });

    test('a denied consent lands on the sign-in page with the provider’s reason', async () => {
      const browser = new HttpBrowser();
      const start = await browser.request('GET', `${hoist}/api/v1/sso/login?returnTo=/approvals`);
      const back = await browser.atProvider(start.location!, 'bob-sub', { callback, deny: true });
      const answer = await browser.request('GET', back);
      assert.match(refusal(answer), /Test IdP refused the sign-in: access_denied/);
      assert.equal(new URL(answer.location!).searchParams.get('next'), '/approvals');
    });

    test('returnTo off this server is refused, not followed', async () => {
      for (const returnTo of ['https://evil.example', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)']) {
        const r = await fetch(`${hoist}/api/v1/sso/login?returnTo=${encodeURIComponent(returnTo)}`, {
          redirect: 'manual',
        });
        assert.equal(r.status, 400, returnTo);
        assert.equal(r.headers.get('location'), null);
        assert.match(((await r.json()) as { error: { message: string } }).error.message, /returnTo/);
      }
    });

    test('the CLI flow: a one-time code to 127.0.0.1 only, worth a token with the CLI’s verifier, once', async () => {
      const cli = 'http://127.0.0.1:45999/callback';
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const offLoopback = await fetch(
        `${hoist}/api/v1/sso/login?cli=${encodeURIComponent('http://evil.example:80/x')}&challenge=${challenge}`,
        { redirect: 'manual' },
      );
      assert.equal(offLoopback.status, 400);

      const codeFor = async () => {
        const browser = new HttpBrowser();
        const q = `cli=${encodeURIComponent(cli)}&challenge=${challenge}`;
        const start = await browser.request('GET', `${hoist}/api/v1/sso/login?${q}`);
        const back = await browser.atProvider(start.location!, 'bob-sub', { callback });
        const done = await browser.request('GET', back);
        assert.equal(done.status, 303);
        assert.equal(done.headers.get('set-cookie'), null, 'the browser gets no session in a CLI sign-in');
        const to = new URL(done.location!);
        assert.equal(`${to.origin}${to.pathname}`, cli);
        return to.searchParams.get('code')!;
      };
      const trade = (code: string, codeVerifier: string) =>
        api.app.inject({
          method: 'POST',
          url: '/api/v1/sso/cli-token',
          payload: { code, codeVerifier, name: 'cli-test' },
        });
      const stolen = await codeFor();
      const wrong = await trade(stolen, randomBytes(32).toString('base64url'));
      assert.equal(wrong.statusCode, 401);
      assert.equal((await trade(stolen, verifier)).statusCode, 401, 'a code is gone after one try');
      const code = await codeFor();
      const ok = await trade(code, verifier);
      assert.equal(ok.statusCode, 201, ok.body);
      const { token, username } = ok.json() as { token: string; username: string };
      assert.equal(username, 'bob');
      const bob = caller(api.app, token);
      assert.equal((await bob('GET', '/api/v1/me')).body.username, 'bob');
      assert.equal((await trade(code, verifier)).statusCode, 401, 'no replay');
    });

    test('turning SSO off: the sign-in page no longer offers it, and flows in flight end', async () => {
      const browser = new HttpBrowser();
      const start = await browser.request('GET', `${hoist}/api/v1/sso/login`);
      const back = await browser.atProvider(start.location!, 'bob-sub', { callback });
      assert.equal((await admin('DELETE', '/api/v1/sso')).status, 204);
      assert.equal((await admin('GET', '/api/v1/sso')).status, 404);
      assert.equal(((await (await fetch(`${hoist}/api/v1/sso/status`)).json()) as { enabled: boolean }).enabled, false);
      assert.match(refusal(await browser.request('GET', back)), /used already or has expired/);
      const audit = await admin('GET', '/api/v1/audit?objectType=sso');
      assert.ok(audit.body.items.some((e: { action: string }) => e.action === 'sso.remove'));
      assert.equal((await configure()).status, 200);
    });
  });
}
