/**
 * The server keeps who a credential belongs to for a few seconds (src/api/identity-cache.ts); no change to it may
 * wait for that. On both backends, a second actor's token that was just used (so its answer is kept) stops working
 * on its very next request when an admin revokes it, when the admin removes its membership, and when its user is
 * disabled by hand in the database (as the CLI or another replica would); a token kept before its expiry is refused
 * after it. On PostgreSQL, two replicas: a change made through one is seen by the other as soon as its notification
 * arrives (well before the few seconds an answer may be kept).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { buildServer } from '../../src/api/server.ts';
import type { App, Services } from '../../src/api/context.ts';
import { createServices } from '../../src/api/services.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { caller, LOOPBACK_CIDRS, startApi, TEST_PASSWORD_COST, type TestApi } from '../helpers/api.ts';
import { BACKENDS, freshPostgres } from '../helpers/backends.ts';

const ROUTE = '/api/v1/projects/alpha';

for (const backend of BACKENDS) {
  describe(`kept identities never outlive a change [${backend}]`, () => {
    let api: TestApi;
    let admin: ReturnType<typeof caller>;
    /** A viewer of alpha with a token of its own (its id too, to revoke it). */
    const viewer = async (username: string): Promise<{ token: string; id: string }> => {
      const user = await api.services.accounts.createUser(
        { username: 'test' },
        { username, password: `${username}-password`, isAdmin: false },
      );
      const t = await api.services.accounts.createToken({ userId: user.id, username }, 'cli');
      assert.equal((await admin('POST', '/api/v1/projects/alpha/members', { username, role: 'viewer' })).status, 201);
      return { token: t.token, id: t.id };
    };
    /** Two GETs that succeed: the second is answered from what the server kept. */
    const used = async (token: string): Promise<void> => {
      for (let i = 0; i < 2; i++) assert.equal((await caller(api.app, token)('GET', ROUTE)).status, 200);
    };

    before(async () => {
      api = await startApi(backend);
      admin = caller(api.app, await api.tokenFor('root', { admin: true }));
      assert.equal((await admin('POST', '/api/v1/projects', { name: 'alpha' })).status, 201);
    });
    after(() => api?.close());

    test('a token revoked by an admin is refused on its next request', async () => {
      const mia = await viewer('mia');
      await used(mia.token);
      assert.equal((await admin('DELETE', `/api/v1/tokens/${mia.id}`)).status, 204);
      assert.equal((await caller(api.app, mia.token)('GET', ROUTE)).status, 401);
    });

    test('a removed membership is refused on the next request', async () => {
      const pat = await viewer('pat');
      await used(pat.token);
      assert.equal((await admin('DELETE', '/api/v1/projects/alpha/members/pat/viewer')).status, 204);
      assert.equal((await caller(api.app, pat.token)('GET', ROUTE)).status, 403);
      // And a membership granted is seen at once too.
      assert.equal(
        (await admin('POST', '/api/v1/projects/alpha/members', { username: 'pat', role: 'viewer' })).status,
        201,
      );
      assert.equal((await caller(api.app, pat.token)('GET', ROUTE)).status, 200);
    });

    test('a user disabled in the database by hand (not through this server) is refused', async () => {
      const kim = await viewer('kim');
      await used(kim.token);
      await sql`UPDATE users SET disabled = true WHERE username = 'kim'`.execute(api.database.db);
      // The embedded database tells the server before the statement's own answer; PostgreSQL's LISTEN a moment after.
      const deadline = performance.now() + (backend === 'pglite' ? 0 : 1000);
      let status = 0;
      do status = (await caller(api.app, kim.token)('GET', ROUTE)).status;
      while (status === 200 && performance.now() < deadline);
      assert.equal(status, 401);
    });

    test('a kept token is refused once it expires', async () => {
      const lee = await viewer('lee');
      await sql`UPDATE api_tokens SET expires_at = now() + interval '700 milliseconds'
        WHERE id = ${lee.id}`.execute(api.database.db);
      await new Promise((r) => setTimeout(r, 100)); // PostgreSQL's notification of that change has come
      await used(lee.token);
      await new Promise((r) => setTimeout(r, 800));
      assert.equal((await caller(api.app, lee.token)('GET', ROUTE)).status, 401);
    });
  });
}

describe('two replicas on one PostgreSQL', () => {
  const replicas: Array<{ database: Database; app: App; services: Services }> = [];
  before(async () => {
    const url = await freshPostgres();
    const box = new SecretBox(randomBytes(32));
    for (let i = 0; i < 2; i++) {
      const database = await openDatabase({ url });
      const services = createServices(database, box, {
        outbound: OutboundPolicy.fromList(LOOPBACK_CIDRS),
        accounts: { passwordCost: TEST_PASSWORD_COST },
      });
      replicas.push({ database, services, app: await buildServer(services) });
    }
  });
  after(async () => {
    for (const r of replicas) {
      await r.app.close();
      await r.database.close();
    }
  });

  test('a token revoked through one replica is refused by the other as soon as it hears of it', async () => {
    const [one, two] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const accounts = one.services.accounts;
    const root = await accounts.createUser(
      { username: 'test' },
      { username: 'root', password: 'root-password-1', isAdmin: true },
    );
    const mia = await accounts.createUser(
      { username: 'test' },
      { username: 'mia', password: 'mia-password-1', isAdmin: false },
    );
    const rootToken = (await accounts.createToken({ userId: root.id, username: 'root' }, 'cli')).token;
    const miaToken = await accounts.createToken({ userId: mia.id, username: 'mia' }, 'cli');
    // mia's token is in use on the second replica (kept there).
    for (let i = 0; i < 2; i++) assert.equal((await caller(two.app, miaToken.token)('GET', '/api/v1/me')).status, 200);
    const revoked = performance.now();
    assert.equal((await caller(one.app, rootToken)('DELETE', `/api/v1/tokens/${miaToken.id}`)).status, 204);
    let status = 200;
    while (status === 200 && performance.now() - revoked < 2000)
      status = (await caller(two.app, miaToken.token)('GET', '/api/v1/me')).status;
    const ms = performance.now() - revoked;
    assert.equal(status, 401);
    // Far sooner than the few seconds an answer may be kept: the notification did it.
    assert.ok(ms < 1000, `refused after ${Math.round(ms)} ms`);
  });
});
