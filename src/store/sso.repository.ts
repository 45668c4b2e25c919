/**
 * Single sign-on, as stored: the provider's configuration (one row), authorization requests in flight and the CLI's
 * one-time codes (each taken once, by a DELETE … RETURNING, so two callbacks with the same state cannot both win),
 * users found by issuer + subject, and the memberships derived from the provider's groups.
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { ProjectRole, Schema } from './schema.ts';

type Db = Kysely<Schema>;
export type SsoConfigRow = Selectable<Schema['sso_config']>;
export type SsoFlowRow = Selectable<Schema['sso_flows']>;

const parsed = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

export async function getSsoConfig(db: Db): Promise<SsoConfigRow | undefined> {
  const row = await db.selectFrom('sso_config').selectAll().where('id', '=', 'default').executeTakeFirst();
  return row ? { ...row, group_roles: parsed(row.group_roles) } : undefined;
}

/** Creates or replaces the configuration. */
export async function putSsoConfig(trx: Transaction<Schema>, row: Insertable<Schema['sso_config']>): Promise<void> {
  await trx
    .insertInto('sso_config')
    .values(row)
    .onConflict((oc) => oc.column('id').doUpdateSet({ ...row, id: 'default' }))
    .execute();
}

/** Removes the configuration (and every flow in flight); answers whether there was one. */
export async function deleteSsoConfig(trx: Transaction<Schema>): Promise<boolean> {
  await trx.deleteFrom('sso_flows').execute();
  const r = await trx.deleteFrom('sso_config').executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** How many flows are in flight (not expired). */
export async function countSsoFlows(db: Db, now: Date): Promise<number> {
  const r = await db
    .selectFrom('sso_flows')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('expires_at', '>=', now)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Records a flow; flows that expired are pruned on the way. */
export async function insertSsoFlow(db: Db, row: Insertable<Schema['sso_flows']>, now: Date): Promise<void> {
  await db.deleteFrom('sso_flows').where('expires_at', '<', now).execute();
  await db.insertInto('sso_flows').values(row).execute();
}

/** Takes the flow with this state: it is gone afterwards, whatever the caller does with it. */
export async function takeSsoFlow(db: Db, stateHash: string): Promise<SsoFlowRow | undefined> {
  return db.deleteFrom('sso_flows').where('state_hash', '=', stateHash).returningAll().executeTakeFirst();
}

export async function insertCliCode(db: Db, row: Insertable<Schema['sso_cli_codes']>, now: Date): Promise<void> {
  await db.deleteFrom('sso_cli_codes').where('expires_at', '<', now).execute();
  await db.insertInto('sso_cli_codes').values(row).execute();
}

/** Takes a one-time code: gone afterwards, whether or not the verifier that comes with it is right. */
export async function takeCliCode(db: Db, codeHash: string): Promise<Selectable<Schema['sso_cli_codes']> | undefined> {
  return db.deleteFrom('sso_cli_codes').where('code_hash', '=', codeHash).returningAll().executeTakeFirst();
}

/** The user the provider knows as `subject`, if they signed in before. */
export async function findExternalUser(
  db: Db,
  issuer: string,
  subject: string,
): Promise<{ id: string; username: string; disabled: boolean; isAdmin: boolean } | undefined> {
  const r = await db
    .selectFrom('users')
    .select(['id', 'username', 'disabled', 'is_admin'])
    .where('external_issuer', '=', issuer)
    .where('external_subject', '=', subject)
    .executeTakeFirst();
  return r ? { id: r.id, username: r.username, disabled: r.disabled, isAdmin: r.is_admin } : undefined;
}

/** Which of these user names are taken. */
export async function takenUsernames(db: Db, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await db.selectFrom('users').select('username').where('username', 'in', names).execute();
  return new Set(rows.map((r) => r.username));
}

export async function setAdmin(trx: Transaction<Schema>, userId: string, isAdmin: boolean): Promise<void> {
  await trx.updateTable('users').set({ is_admin: isAdmin }).where('id', '=', userId).execute();
}

/** Project ids by name, for the names that exist. */
export async function projectIdsByName(db: Db, names: readonly string[]): Promise<Map<string, string>> {
  if (names.length === 0) return new Map();
  const rows = await db.selectFrom('projects').select(['id', 'name']).where('name', 'in', names).execute();
  return new Map(rows.map((r) => [r.name, r.id]));
}

export interface MembershipKey {
  projectId: string;
  /** The project's name (for the audit entry). */
  project: string;
  role: ProjectRole;
}

/**
 * Makes the user's SSO-derived memberships exactly `wanted`: removes those no longer wanted, adds the missing ones.
 * Memberships an admin granted (source `local`) are never touched; a wanted role the user already has locally is
 * left as it is. Answers what changed, as `projectId/role`.
 */
export async function replaceSsoMemberships(
  trx: Transaction<Schema>,
  userId: string,
  wanted: readonly MembershipKey[],
  newId: () => string,
  now: Date,
): Promise<{ added: MembershipKey[]; removed: MembershipKey[] }> {
  const existing = await trx
    .selectFrom('memberships')
    .innerJoin('projects', 'projects.id', 'memberships.project_id')
    .select(['memberships.id as id', 'project_id', 'projects.name as project', 'role', 'source'])
    .where('user_id', '=', userId)
    .forUpdate('memberships')
    .execute();
  const key = (m: { projectId: string; role: string }) => `${m.projectId}/${m.role}`;
  const wantedKeys = new Set(wanted.map(key));
  const removed = existing.filter(
    (m) => m.source === 'sso' && !wantedKeys.has(key({ projectId: m.project_id, role: m.role })),
  );
  if (removed.length > 0)
    await trx
      .deleteFrom('memberships')
      .where(
        'id',
        'in',
        removed.map((m) => m.id),
      )
      .execute();
  const have = new Set(existing.map((m) => key({ projectId: m.project_id, role: m.role })));
  const added = wanted.filter((m, i) => !have.has(key(m)) && wanted.findIndex((o) => key(o) === key(m)) === i);
  if (added.length > 0)
    await trx
      .insertInto('memberships')
      .values(
        added.map((m) => ({
          id: newId(),
          project_id: m.projectId,
          user_id: userId,
          role: m.role,
          environments: null,
          created_at: now,
          source: 'sso' as const,
        })),
      )
      .execute();
  return { added, removed: removed.map((m) => ({ projectId: m.project_id, project: m.project, role: m.role })) };
}
