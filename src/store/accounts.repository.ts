/** Users, API tokens, sessions and login-attempt counters. */
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import type { Selectable } from 'kysely';
import type { Schema } from './schema.ts';

export interface UserRow {
  id: string;
  username: string;
  passwordHash: string;
  isAdmin: boolean;
  disabled: boolean;
  createdAt: Date;
  email: string | null;
  /** Signs in with single sign-on (found by the provider's issuer and subject); has no password. */
  external: boolean;
}

type Db = Kysely<Schema>;

const toUser = (r: Selectable<Schema['users']>): UserRow => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  isAdmin: r.is_admin,
  disabled: r.disabled,
  createdAt: r.created_at,
  email: r.email,
  external: r.external_issuer !== null,
});

export async function findUserByName(db: Db, username: string): Promise<UserRow | undefined> {
  const r = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  return r ? toUser(r) : undefined;
}

export async function listUsers(db: Db): Promise<UserRow[]> {
  return (await db.selectFrom('users').selectAll().orderBy('username').execute()).map(toUser);
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * Counts one login attempt for `key` in a fixed window and answers the count, in one statement: concurrent attempts
 * each get their own number, so none slips under a limit because it read the counter before the others wrote it.
 */
export async function countLoginAttempt(
  db: Db,
  key: string,
  now: Date,
  windowMs: number,
): Promise<{ count: number; retryAfterMs: number }> {
  const expired = new Date(now.getTime() - windowMs);
  const { rows } = await sql<{ failures: number; window_start: Date | string }>`
    INSERT INTO login_failures (key, failures, window_start) VALUES (${key}, 1, ${now})
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN login_failures.window_start <= ${expired} THEN 1 ELSE login_failures.failures + 1 END,
      window_start = CASE WHEN login_failures.window_start <= ${expired} THEN ${now} ELSE login_failures.window_start END
    RETURNING failures, window_start`.execute(db);
  const row = rows[0];
  const start = row ? new Date(row.window_start).getTime() : now.getTime();
  return { count: Number(row?.failures ?? 1), retryAfterMs: Math.max(1000, start + windowMs - now.getTime()) };
}

/** Takes back one counted attempt (a successful login does not count against its address). */
export async function forgiveLoginAttempt(db: Db, key: string): Promise<void> {
  await sql`UPDATE login_failures SET failures = GREATEST(failures - 1, 0) WHERE key = ${key}`.execute(db);
}

export async function loginFailures(
  db: Db,
  key: string,
  now: Date,
  windowMs: number,
): Promise<{ failures: number; retryAfterMs: number }> {
  const row = await db.selectFrom('login_failures').selectAll().where('key', '=', key).executeTakeFirst();
  if (!row) return { failures: 0, retryAfterMs: 0 };
  const age = now.getTime() - row.window_start.getTime();
  if (age > windowMs) return { failures: 0, retryAfterMs: 0 };
  return { failures: row.failures, retryAfterMs: windowMs - age };
}

export async function clearLoginFailures(db: Db, key: string): Promise<void> {
  await db.deleteFrom('login_failures').where('key', '=', key).execute();
}

/** Adds a user. */
export async function insertUser(trx: Transaction<Schema>, row: Insertable<Schema['users']>): Promise<void> {
  await trx.insertInto('users').values(row).execute();
}

/** Sets or clears a user's e-mail address. */
export async function setUserEmail(trx: Transaction<Schema>, userId: string, email: string | null): Promise<void> {
  await trx.updateTable('users').set({ email }).where('id', '=', userId).execute();
}

/** Adds a browser session (its secret stored hashed). */
export async function insertSession(db: Db, row: Insertable<Schema['sessions']>): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

/** Deletes the session whose secret hashes to `hash`. */
export async function deleteSessionByHash(db: Db, hash: string): Promise<void> {
  await db.deleteFrom('sessions').where('token_hash', '=', hash).execute();
}

/** Whether the user has a token of that name not revoked. */
export async function hasUnrevokedToken(db: Db, userId: string, name: string): Promise<boolean> {
  const r = await db
    .selectFrom('api_tokens')
    .select('id')
    .where('user_id', '=', userId)
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return r !== undefined;
}

/** Deletes the user's tokens of that name (revoked ones, before the name is used again). */
export async function deleteTokensNamed(trx: Transaction<Schema>, userId: string, name: string): Promise<void> {
  await trx.deleteFrom('api_tokens').where('user_id', '=', userId).where('name', '=', name).execute();
}

/** Adds an API token (stored hashed). */
export async function insertToken(trx: Transaction<Schema>, row: Insertable<Schema['api_tokens']>): Promise<void> {
  await trx.insertInto('api_tokens').values(row).execute();
}

/** The user's tokens, oldest first. */
export async function listTokensOf(db: Db, userId: string): Promise<Array<Selectable<Schema['api_tokens']>>> {
  return db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

/** One token by id, if it exists. */
export async function findToken(db: Db, id: string): Promise<Selectable<Schema['api_tokens']> | undefined> {
  return db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks a token revoked at `at`. */
export async function revokeTokenAt(trx: Transaction<Schema>, id: string, at: Date): Promise<void> {
  await trx.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).execute();
}

/** Records when a token was last used. */
export async function touchToken(db: Db, id: string, at: Date): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

/** The id of the user named so, if any. */
export async function userIdByName(db: Db, username: string): Promise<string | undefined> {
  return (await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst())?.id;
}
