/** An in-process hoist API on a fresh database, with helpers to sign in and call it as different people. */
import { buildServer } from '../../src/api/server.ts';
import type { App, Services } from '../../src/api/context.ts';
import { randomBytes } from 'node:crypto';
import { createServices, type ServiceOptions } from '../../src/api/services.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import type { ScryptCost } from '../../src/service/passwords.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import type { Backend, Database } from '../../src/store/database.ts';
import { freshDatabase } from './backends.ts';

export const ADMIN_PASSWORD = 'correct horse battery';
export const LOOPBACK_CIDRS = '127.0.0.0/8,::1/128';
const LOOPBACK = OutboundPolicy.fromList(LOOPBACK_CIDRS);
/**
 * The scrypt cost of the passwords test APIs hash: every user a test makes has one, and production's cost (about 40 ms
 * of CPU each) adds up to seconds per file on a shared 2-core machine. Hashes say their cost, so verifying is the
 * same code; test/unit/passwords.test.ts checks production's.
 */
export const TEST_PASSWORD_COST: ScryptCost = { N: 1024, r: 8, p: 1 };

export interface TestApi {
  app: App;
  database: Database;
  services: Services;
  /** The key that seals secrets (a second replica over the same database needs the same one). */
  box: SecretBox;
  /** An API token for a user (created as admin when asked); the user is created on first use. */
  tokenFor(username: string, opts?: { admin?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function startApi(backend: Backend, opts: ServiceOptions = {}): Promise<TestApi> {
  const database = await freshDatabase(backend);
  // Test registries and webhook receivers listen on loopback: allow it, as an admin would with HOIST_OUTBOUND_ALLOW.
  const box = new SecretBox(randomBytes(32));
  const services = createServices(database, box, {
    outbound: LOOPBACK,
    ...opts,
    accounts: { passwordCost: TEST_PASSWORD_COST, ...opts.accounts },
  });
  const accounts = services.accounts;
  await accounts.bootstrapAdmin(ADMIN_PASSWORD);
  const app = await buildServer(services);
  const tokens = new Map<string, string>();
  return {
    app,
    database,
    services,
    box,
    async tokenFor(username, opts = {}) {
      const known = tokens.get(username);
      if (known) return known;
      let user = await (await import('../../src/store/accounts.repository.ts')).findUserByName(database.db, username);
      user ??= await accounts.createUser(
        { username: 'test' },
        { username, password: `${username}-password`, isAdmin: opts.admin ?? false },
      );
      const t = await accounts.createToken({ userId: user.id, username }, `test-${username}`);
      tokens.set(username, t.token);
      return t.token;
    },
    async close() {
      await app.close();
      await database.close();
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read JSON answers field by field
export type Call = (method: string, url: string, payload?: unknown) => Promise<{ status: number; body: any }>;

/** Calls the in-process API with a bearer token, answering status and parsed JSON body. */
export function caller(app: App, token: string): Call {
  return async (method, url, payload) => {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };
}
