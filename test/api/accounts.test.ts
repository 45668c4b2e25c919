/**
 * Accounts through the API on both backends: password login with a session cookie and CSRF, failed logins counted
 * atomically (50 concurrent guesses check at most the limit) per user and address, an owner an attacker cannot lock
 * out, a Secure cookie over HTTPS or behind a trusted proxy,
 * API tokens (secret shown once, revocable), validation errors that name the field, and the audit trail they leave.
 * A slowed-down login's wait is recorded, not slept (up to LOGIN_MAX_DELAY_MS each: half a minute per backend).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { ADMIN_PASSWORD, startApi, type TestApi } from '../helpers/api.ts';
import { buildServer } from '../../src/api/server.ts';
import { LOGIN_MAX_DELAY_MS, LOGIN_MAX_FAILURES, loginDelayMs } from '../../src/service/accounts.service.ts';

for (const backend of BACKENDS) {
  void describe(`accounts API [${backend}]`, () => {
    let api: TestApi;
    /** The waits slowed-down logins asked for, in order. */
    const waits: number[] = [];
    before(async () => {
      api = await startApi(backend, {
        accounts: {
          sleep: async (ms) => {
            waits.push(ms);
            await new Promise((r) => setImmediate(r));
          },
        },
      });
    });
    after(() => api?.close());

    test('health, readiness, metrics and the OpenAPI document are public', async () => {
      assert.equal((await api.app.inject({ url: '/healthz' })).statusCode, 200);
      assert.deepEqual((await api.app.inject({ url: '/readyz' })).json(), { status: 'ready', database: backend });
      const doc = (await api.app.inject({ url: '/api/v1/openapi.json' })).json() as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      assert.equal(doc.openapi, '3.1.0');
      assert.ok(doc.paths['/api/v1/tokens']);
      assert.match((await api.app.inject({ url: '/api/v1/docs' })).body, /\/api\/v1\/tokens/);
      const metrics = (await api.app.inject({ url: '/metrics' })).body;
      assert.match(metrics, /hoist_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
      assert.match(metrics, /hoist_db_pool_connections/);
    });

    test('login sets an HttpOnly SameSite session; mutating calls need the CSRF token', async () => {
      const login = await api.app.inject({
        method: 'POST',
        url: '/api/v1/login',
        payload: { username: 'admin', password: ADMIN_PASSWORD },
      });
      assert.equal(login.statusCode, 200);
      const setCookie = String(login.headers['set-cookie']);
      assert.match(setCookie, /HttpOnly/);
      assert.match(setCookie, /SameSite=Strict/);
      const cookie = setCookie.split(';')[0]!;
      const { csrfToken } = login.json() as { csrfToken: string };
      assert.equal((await api.app.inject({ url: '/api/v1/me', headers: { cookie } })).json().username, 'admin');
      const noCsrf = await api.app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { cookie },
        payload: { name: 'x' },
      });
      assert.equal(noCsrf.statusCode, 403);
      assert.match(noCsrf.json().error.message, /x-csrf-token/);
      const withCsrf = await api.app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { cookie, 'x-csrf-token': csrfToken },
        payload: { name: 'from-browser' },
      });
      assert.equal(withCsrf.statusCode, 201);
      await api.app.inject({ method: 'POST', url: '/api/v1/logout', headers: { cookie, 'x-csrf-token': csrfToken } });
      assert.equal((await api.app.inject({ url: '/api/v1/me', headers: { cookie } })).statusCode, 401);
    });

    test('failed logins are limited per user and address and per address; the user is slowed, not locked out', async () => {
      const attempt = (username: string, ip: string, password = 'wrong-password') =>
        api.app.inject({ method: 'POST', url: '/api/v1/login', remoteAddress: ip, payload: { username, password } });
      waits.length = 0;
      for (let i = 0; i < 5; i++) assert.equal((await attempt('carol', '10.0.0.1')).statusCode, 401);
      assert.deepEqual(waits, [], 'fewer failures than the limit: no wait');
      const limited = await attempt('carol', '10.0.0.1');
      assert.equal(limited.statusCode, 429, 'the user is limited from that address');
      assert.ok(Number(limited.headers['retry-after']) > 0);
      assert.equal((await attempt('carol', '10.0.0.2')).statusCode, 401, 'another address is still checked');
      assert.deepEqual(waits, [loginDelayMs(LOGIN_MAX_FAILURES)], 'but carol is slowed down from any address');
      for (let i = 0; i < 5; i++) await attempt(`u${i}`, '10.0.0.3');
      assert.equal((await attempt('admin', '10.0.0.3')).statusCode, 429, 'the address is limited for any user');
      const ok = await attempt('admin', '10.0.0.9', ADMIN_PASSWORD);
      assert.equal(ok.statusCode, 200);
    });

    test('the session cookie is Secure over HTTPS, and X-Forwarded-Proto counts only with --trust-proxy', async () => {
      const login = (app: typeof api.app, headers: Record<string, string>) =>
        app.inject({
          method: 'POST',
          url: '/api/v1/login',
          remoteAddress: '10.0.3.1',
          headers,
          payload: { username: 'admin', password: ADMIN_PASSWORD },
        });
      const plain = await login(api.app, { 'x-forwarded-proto': 'https' });
      assert.doesNotMatch(String(plain.headers['set-cookie']), /Secure/, 'an untrusted header is ignored');
      const proxied = await buildServer(api.services, { trustProxy: true });
      try {
        const behind = await login(proxied, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' });
        assert.equal(behind.statusCode, 200);
        assert.match(String(behind.headers['set-cookie']), /; Secure/);
        assert.doesNotMatch(String((await login(proxied, {})).headers['set-cookie']), /Secure/, 'plain HTTP');
      } finally {
        await proxied.close();
      }
    });

    test('50 concurrent wrong guesses: at most the limit are checked', async () => {
      const guesses = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          api.app.inject({
            method: 'POST',
            url: '/api/v1/login',
            remoteAddress: '10.0.1.1',
            payload: { username: 'admin', password: `guess-${i}` },
          }),
        ),
      );
      const statuses = guesses.map((g) => g.statusCode);
      const checked = statuses.filter((s) => s === 401).length;
      assert.ok(checked >= 1 && checked <= LOGIN_MAX_FAILURES, `${checked} guesses were checked`);
      assert.equal(statuses.filter((s) => s === 429).length, 50 - checked, 'the rest were refused unchecked');
    });

    test("an attacker's lockout does not keep the owner out: the right password from another address works", async () => {
      const guess = (ip: string) =>
        api.app.inject({
          method: 'POST',
          url: '/api/v1/login',
          remoteAddress: ip,
          payload: { username: 'admin', password: 'not-the-password' },
        });
      // Guesses from several addresses, each up to and past its own limit.
      for (const ip of ['10.0.2.1', '10.0.2.2']) for (let i = 0; i < 7; i++) await guess(ip);
      assert.equal((await guess('10.0.2.1')).statusCode, 429);
      waits.length = 0;
      const owner = await api.app.inject({
        method: 'POST',
        url: '/api/v1/login',
        remoteAddress: '10.0.2.9',
        payload: { username: 'admin', password: ADMIN_PASSWORD },
      });
      assert.equal(owner.statusCode, 200, 'slowed down, never refused');
      assert.deepEqual(waits, [LOGIN_MAX_DELAY_MS], 'the owner waited the longest delay, once');
      assert.equal(
        (
          await api.app.inject({
            method: 'POST',
            url: '/api/v1/login',
            remoteAddress: '10.0.2.9',
            payload: { username: 'admin', password: ADMIN_PASSWORD },
          })
        ).statusCode,
        200,
        'successful logins do not use up the address',
      );
    });

    test('API tokens: secret shown once, stored hashed, listed without it, revocable', async () => {
      const admin = await api.tokenFor('root', { admin: true });
      const created = await api.app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { authorization: `Bearer ${admin}` },
        payload: { name: 'ci', expiresInDays: 30 },
      });
      assert.equal(created.statusCode, 201);
      const { token, id } = created.json() as { token: string; id: string };
      assert.match(token, /^hoist_/);
      const stored = await sql<{ token_hash: string }>`SELECT token_hash FROM api_tokens WHERE id = ${id}`.execute(
        api.database.db,
      );
      assert.notEqual(stored.rows[0]?.token_hash, token);
      const list = (
        await api.app.inject({ url: '/api/v1/tokens', headers: { authorization: `Bearer ${token}` } })
      ).json() as { items: Array<Record<string, unknown>> };
      assert.ok(list.items.some((t) => t.name === 'ci' && !('token' in t)));
      assert.equal(
        (
          await api.app.inject({
            method: 'DELETE',
            url: `/api/v1/tokens/${id}`,
            headers: { authorization: `Bearer ${token}` },
          })
        ).statusCode,
        204,
      );
      assert.equal(
        (await api.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode,
        401,
      );
    });

    test('validation errors name the field; unknown fields and oversized bodies are refused', async () => {
      const admin = await api.tokenFor('root', { admin: true });
      const headers = { authorization: `Bearer ${admin}` };
      const unknown = await api.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers,
        payload: { username: 'dave', password: 'long-enough', colour: 'red' },
      });
      assert.equal(unknown.statusCode, 400);
      assert.match(unknown.json().error.message, /unknown field body\.colour/);
      const bad = await api.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers,
        payload: { username: 'Dave!', password: 'long-enough' },
      });
      assert.deepEqual(bad.json().error.details, { field: 'username' });
      const big = await api.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers,
        payload: { username: 'x', password: 'y'.repeat(2 * 1024 * 1024) },
      });
      assert.equal(big.statusCode, 413);
    });

    test('changes are audited with actor and request id, and the chain verifies', async () => {
      const admin = await api.tokenFor('root', { admin: true });
      const headers = { authorization: `Bearer ${admin}`, 'x-request-id': 'req-audit-1' };
      assert.equal(
        (
          await api.app.inject({
            method: 'POST',
            url: '/api/v1/users',
            headers,
            payload: { username: 'erin', password: 'long-enough' },
          })
        ).statusCode,
        201,
      );
      const list = (await api.app.inject({ url: '/api/v1/audit?actor=root&objectType=user', headers })).json() as {
        items: Array<{ objectId: string; requestId: string; action: string }>;
      };
      assert.deepEqual(
        list.items.map((e) => [e.action, e.objectId, e.requestId]),
        [['user.create', 'erin', 'req-audit-1']],
      );
      assert.equal((await api.app.inject({ method: 'POST', url: '/api/v1/audit/verify', headers })).json().ok, true);
    });

    test('an expired token is refused', async () => {
      const { Accounts } = await import('../../src/service/accounts.service.ts');
      const { findUserByName } = await import('../../src/store/accounts.repository.ts');
      const user = (await findUserByName(api.database.db, 'admin'))!;
      const longAgo = new Accounts(api.database.db, () => new Date(Date.now() - 3 * 86_400_000));
      const t = await longAgo.createToken({ userId: user.id, username: 'admin' }, 'short', 1);
      const res = await api.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(res.statusCode, 401);
      const fresh = await new Accounts(api.database.db).createToken({ userId: user.id, username: 'admin' }, 'long', 1);
      assert.equal(
        (await api.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${fresh.token}` } })).statusCode,
        200,
      );
    });
  });
}
