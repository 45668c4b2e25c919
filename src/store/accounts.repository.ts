/** Users, API tokens, sessions and failed-login counters. */
import type { Kysely } from 'kysely';
import type { Membership } from '../service/identity.ts';
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
});

export async function findUserByName(db: Db, username: string): Promise<UserRow | undefined> {
  const r = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  return r ? toUser(r) : undefined;
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
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

export async function membershipsOf(db: Db, userId: string): Promise<Membership[]> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('projects', 'projects.id', 'memberships.project_id')
    .select(['projects.name as project', 'memberships.role as role', 'memberships.environments as environments'])
    .where('memberships.user_id', '=', userId)
    .execute();
  return rows.map((r) => ({
    project: r.project,
    role: r.role,
    environments: (typeof r.environments === 'string' ? JSON.parse(r.environments) : r.environments) as string[] | null,
  }));
}

export async function findActiveToken(
  db: Db,
  hash: string,
  now: Date,
): Promise<{ id: string; userId: string } | undefined> {
  const r = await db
    .selectFrom('api_tokens')
    .select(['id', 'user_id', 'expires_at', 'revoked_at'])
    .where('token_hash', '=', hash)
    .executeTakeFirst();
  if (!r || r.revoked_at !== null || (r.expires_at !== null && r.expires_at <= now)) return undefined;
  return { id: r.id, userId: r.user_id };
}

export async function findActiveSession(
  db: Db,
  hash: string,
  now: Date,
): Promise<{ id: string; userId: string; csrfToken: string } | undefined> {
  const r = await db
    .selectFrom('sessions')
    .select(['id', 'user_id', 'csrf_token', 'expires_at'])
    .where('token_hash', '=', hash)
    .executeTakeFirst();
  if (!r || r.expires_at <= now) return undefined;
  return { id: r.id, userId: r.user_id, csrfToken: r.csrf_token };
}

/** Counts a failed login for `key` in a sliding window; returns the count in the current window. */
export async function recordLoginFailure(db: Db, key: string, now: Date, windowMs: number): Promise<number> {
  const row = await db.selectFrom('login_failures').selectAll().where('key', '=', key).executeTakeFirst();
  if (!row || now.getTime() - row.window_start.getTime() > windowMs) {
    await db
      .insertInto('login_failures')
      .values({ key, failures: 1, window_start: now })
      .onConflict((oc) => oc.column('key').doUpdateSet({ failures: 1, window_start: now }))
      .execute();
    return 1;
  }
  await db
    .updateTable('login_failures')
    .set({ failures: row.failures + 1 })
    .where('key', '=', key)
    .execute();
  return row.failures + 1;
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
