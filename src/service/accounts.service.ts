/**
 * Accounts: the first admin, users, password logins (limited per user and address and per address, slowed down per
 * user), browser sessions with
 * a CSRF token, and named API tokens (shown once, stored hashed, expiring, revocable). Every change is audited in
 * the same transaction.
 */
import type { Kysely } from 'kysely';
import { randomBytes } from 'node:crypto';
import { Conflict, InvalidInput, NotFound, TooManyRequests, Unauthenticated } from '../errors.ts';
import type { Identity } from './identity.ts';
import {
  clearLoginFailures,
  countLoginAttempt,
  countUsers,
  deleteSessionByHash,
  deleteTokensNamed,
  findToken,
  findUserByName,
  forgiveLoginAttempt,
  hasUnrevokedToken,
  insertSession,
  insertToken,
  insertUser,
  listTokensOf,
  loginFailures,
  revokeTokenAt,
  setUserEmail,
  touchToken,
  type UserRow,
} from '../store/accounts.repository.ts';
import { appendAudit } from '../store/audit.repository.ts';
import { sessionOwner, tokenOwner } from '../store/identity.query.ts';
import type { Schema } from '../store/schema.ts';
import type { Actor } from './audited.ts';
import { hashPassword, PASSWORD_COST, verifyPassword, type ScryptCost } from './passwords.ts';
import { hashSecret, newId, newSecret } from './tokens.ts';

export const LOGIN_WINDOW_MS = 15 * 60_000;
export const LOGIN_MAX_FAILURES = 5;
/** The longest a login waits because its user has many recent failures (from any address). */
export const LOGIN_MAX_DELAY_MS = 4000;

/** A token's last use is recorded to the minute. */
const TOUCH_MS = 60_000;

/** How long a login for a user with `failures` recent failures waits before its password is checked. */
export function loginDelayMs(failures: number): number {
  if (failures < LOGIN_MAX_FAILURES) return 0;
  return Math.min(LOGIN_MAX_DELAY_MS, 250 * 2 ** Math.min(failures - LOGIN_MAX_FAILURES, 10));
}
export const SESSION_TTL_MS = 12 * 3600_000;
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const EMAIL = /^[^\s@<>,;"]{1,64}@[A-Za-z0-9.-]{1,253}$/;

function checkEmail(email: string | null | undefined): string | null {
  if (email === undefined || email === null || email === '') return null;
  if (!EMAIL.test(email)) throw new InvalidInput(`"${email}" is not an e-mail address (name@example.com)`, 'email');
  return email;
}

export class Accounts {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly now: () => Date = () => new Date(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
    private readonly passwordCost: ScryptCost = PASSWORD_COST,
  ) {}

  /** Creates `admin` when there are no users; answers the one-time password when it made one up. */
  async bootstrapAdmin(password?: string): Promise<{ created: boolean; password?: string }> {
    if ((await countUsers(this.db)) > 0) return { created: false };
    const chosen = password ?? randomBytes(12).toString('base64url');
    await this.createUser({ username: 'system' }, { username: 'admin', password: chosen, isAdmin: true });
    return password === undefined ? { created: true, password: chosen } : { created: true };
  }

  async createUser(
    actor: Actor,
    u: { username: string; password: string; isAdmin?: boolean; email?: string | null },
  ): Promise<UserRow> {
    if (!USERNAME.test(u.username))
      throw new InvalidInput('use 1-63 lower-case letters, digits, ".", "_" or "-"', 'username');
    if (u.password.length < 8) throw new InvalidInput('must be at least 8 characters', 'password');
    const email = checkEmail(u.email);
    if (await findUserByName(this.db, u.username)) throw new Conflict(`user "${u.username}" exists already`);
    const row = {
      id: newId(),
      username: u.username,
      password_hash: await hashPassword(u.password, this.passwordCost),
      is_admin: u.isAdmin ?? false,
      disabled: false,
      created_at: this.now(),
      email,
    };
    await this.db.transaction().execute(async (trx) => {
      await insertUser(trx, row);
      await appendAudit(trx, {
        actor: actor.username,
        action: 'user.create',
        objectType: 'user',
        objectId: u.username,
        summary: { after: { username: u.username, isAdmin: row.is_admin, email } },
        requestId: actor.requestId ?? null,
      });
    });
    return {
      id: row.id,
      username: row.username,
      passwordHash: row.password_hash,
      isAdmin: row.is_admin,
      disabled: false,
      createdAt: row.created_at,
      email,
      external: false,
    };
  }

  /** Sets or clears the address approval e-mails go to. */
  async setEmail(actor: Actor, username: string, email: string | null): Promise<UserRow> {
    const checked = checkEmail(email);
    const user = await findUserByName(this.db, username);
    if (!user) throw new NotFound('user', username);
    await this.db.transaction().execute(async (trx) => {
      await setUserEmail(trx, user.id, checked);
      await appendAudit(trx, {
        actor: actor.username,
        action: 'user.update',
        objectType: 'user',
        objectId: username,
        summary: { before: { email: user.email }, after: { email: checked } },
        requestId: actor.requestId ?? null,
      });
    });
    return { ...user, email: checked };
  }

  /**
   * Checks a password. Each attempt is counted before it is checked, in one atomic update, per (user, address) and
   * per address: over the limit it is refused unchecked, however many arrive at once. Failures per user only slow
   * that user's logins down (from any address), so nobody can lock someone else out by guessing their password.
   */
  async login(username: string, password: string, address: string): Promise<UserRow> {
    const now = this.now();
    const pair = `user-addr:${username}|${address}`;
    const addr = `addr:${address}`;
    const counted = [
      await countLoginAttempt(this.db, pair, now, LOGIN_WINDOW_MS),
      await countLoginAttempt(this.db, addr, now, LOGIN_WINDOW_MS),
    ];
    for (const c of counted) {
      if (c.count > LOGIN_MAX_FAILURES) {
        throw new TooManyRequests('too many failed logins; wait before trying again', Math.ceil(c.retryAfterMs / 1000));
      }
    }
    const delay = loginDelayMs((await loginFailures(this.db, `user:${username}`, now, LOGIN_WINDOW_MS)).failures);
    if (delay > 0) await this.sleep(delay);
    const user = await findUserByName(this.db, username);
    // Hash even for an unknown user (or one who signs in with SSO and has no password), so timing does not tell.
    const ok = user?.passwordHash.startsWith('scrypt$')
      ? await verifyPassword(password, user.passwordHash)
      : (await hashPassword(password, this.passwordCost), false);
    if (!user || !ok || user.disabled) {
      await countLoginAttempt(this.db, `user:${username}`, now, LOGIN_WINDOW_MS);
      throw new Unauthenticated('wrong username or password');
    }
    await clearLoginFailures(this.db, pair);
    await forgiveLoginAttempt(this.db, addr);
    return user;
  }

  async createSession(userId: string): Promise<{ secret: string; csrfToken: string; expiresAt: Date }> {
    const { secret, hash } = newSecret('hoists');
    const csrfToken = randomBytes(18).toString('base64url');
    const expiresAt = new Date(this.now().getTime() + SESSION_TTL_MS);
    await insertSession(this.db, {
      id: newId(),
      user_id: userId,
      token_hash: hash,
      csrf_token: csrfToken,
      created_at: this.now(),
      expires_at: expiresAt,
    });
    return { secret, csrfToken, expiresAt };
  }

  async endSession(secret: string): Promise<void> {
    await deleteSessionByHash(this.db, hashSecret(secret));
  }

  async createToken(
    actor: Actor & { userId: string },
    name: string,
    expiresInDays?: number,
  ): Promise<{ id: string; name: string; token: string; expiresAt: Date | null }> {
    if (!/^[\w.-]{1,64}$/.test(name)) throw new InvalidInput('use 1-64 letters, digits, ".", "_" or "-"', 'name');
    const { secret, hash } = newSecret('hoist');
    const expiresAt = expiresInDays === undefined ? null : new Date(this.now().getTime() + expiresInDays * 86_400_000);
    const id = newId();
    await this.db.transaction().execute(async (trx) => {
      if (await hasUnrevokedToken(trx, actor.userId, name))
        throw new Conflict(`you have a token named "${name}" already`);
      await deleteTokensNamed(trx, actor.userId, name);
      await insertToken(trx, {
        id,
        user_id: actor.userId,
        name,
        token_hash: hash,
        created_at: this.now(),
        expires_at: expiresAt,
        revoked_at: null,
        last_used_at: null,
      });
      await appendAudit(trx, {
        actor: actor.username,
        action: 'token.create',
        objectType: 'token',
        objectId: id,
        summary: { after: { name, expiresAt: expiresAt?.toISOString() ?? null } },
        requestId: actor.requestId ?? null,
      });
    });
    return { id, name, token: secret, expiresAt };
  }

  async listTokens(userId: string): Promise<
    Array<{
      id: string;
      name: string;
      createdAt: Date;
      expiresAt: Date | null;
      revokedAt: Date | null;
      lastUsedAt: Date | null;
    }>
  > {
    const rows = await listTokensOf(this.db, userId);
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
      lastUsedAt: r.last_used_at,
    }));
  }

  async revokeToken(actor: Actor & { userId: string; isAdmin: boolean }, id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const row = await findToken(trx, id);
      if (!row || (row.user_id !== actor.userId && !actor.isAdmin)) throw new NotFound('token', id);
      if (row.revoked_at !== null) return;
      await revokeTokenAt(trx, id, this.now());
      await appendAudit(trx, {
        actor: actor.username,
        action: 'token.revoke',
        objectType: 'token',
        objectId: id,
        summary: { before: { name: row.name } },
        requestId: actor.requestId ?? null,
      });
    });
  }

  /** The identity behind an API token or a session secret (and when that credential expires), or undefined. */
  async identify(credential: {
    token?: string;
    session?: string;
  }): Promise<(Identity & { csrfToken?: string; expiresAt: Date | null }) | undefined> {
    const now = this.now();
    const owner =
      credential.token !== undefined
        ? await tokenOwner(this.db, hashSecret(credential.token), now)
        : credential.session !== undefined
          ? await sessionOwner(this.db, hashSecret(credential.session), now)
          : undefined;
    if (owner === undefined) return undefined;
    // A token's last use is written at most once a minute: a write on every request was a third of a GET's work.
    if (owner.tokenId !== undefined && !(owner.lastUsedAt && now.getTime() - owner.lastUsedAt.getTime() < TOUCH_MS))
      await touchToken(this.db, owner.tokenId, now);
    const identity: Identity & { csrfToken?: string; expiresAt: Date | null } = {
      userId: owner.userId,
      username: owner.username,
      isAdmin: owner.isAdmin,
      memberships: owner.memberships,
      via: credential.token !== undefined ? 'token' : 'session',
      expiresAt: owner.expiresAt,
    };
    if (owner.csrfToken !== undefined) identity.csrfToken = owner.csrfToken;
    return identity;
  }
}
