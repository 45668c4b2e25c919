/** Project memberships, as stored: a user's role in a project, perhaps limited to some environments. */
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { ProjectRole, Schema } from './schema.ts';

/** The project's members by username, each role a row, with the environments it is limited to (null: all). */
export async function listMembers(
  db: Kysely<Schema>,
  projectId: string,
): Promise<Array<{ username: string; role: ProjectRole; environments: string[] | null }>> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.username as username', 'memberships.role as role', 'memberships.environments as environments'])
    .where('memberships.project_id', '=', projectId)
    .orderBy('users.username')
    .execute();
  return rows.map((r) => ({
    username: r.username,
    role: r.role,
    environments: (typeof r.environments === 'string' ? JSON.parse(r.environments) : r.environments) as string[] | null,
  }));
}

/** Deletes the user's membership in that role; answers whether there was one. */
export async function deleteMembership(
  trx: Transaction<Schema>,
  m: { projectId: string; userId: string; role: ProjectRole },
): Promise<boolean> {
  const r = await trx
    .deleteFrom('memberships')
    .where('project_id', '=', m.projectId)
    .where('user_id', '=', m.userId)
    .where('role', '=', m.role)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Adds a membership. */
export async function insertMembership(
  trx: Transaction<Schema>,
  row: Insertable<Schema['memberships']>,
): Promise<void> {
  await trx.insertInto('memberships').values(row).execute();
}
