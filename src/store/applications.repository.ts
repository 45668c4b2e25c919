/** Applications of a project, as stored: looked up by names, listed, added and deleted. */
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Schema } from './schema.ts';

/** The application's id and its project's id, found by names, if both exist. */
export async function findApplicationByNames(
  db: Kysely<Schema>,
  project: string,
  application: string,
): Promise<{ id: string; projectId: string } | undefined> {
  return db
    .selectFrom('applications as a')
    .innerJoin('projects as p', 'p.id', 'a.project_id')
    .select(['a.id', 'p.id as projectId'])
    .where('p.name', '=', project)
    .where('a.name', '=', application)
    .executeTakeFirst();
}

/** The names of the project's applications, in order. */
export async function applicationNames(db: Kysely<Schema>, projectId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('applications')
    .select('name')
    .where('project_id', '=', projectId)
    .orderBy('name')
    .execute();
  return rows.map((r) => r.name);
}

/** The id of the project's application named so, if any. */
export async function applicationIdByName(
  db: Kysely<Schema>,
  projectId: string,
  name: string,
): Promise<string | undefined> {
  return (
    await db
      .selectFrom('applications')
      .select('id')
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst()
  )?.id;
}

/** Adds an application. */
export async function insertApplication(
  trx: Transaction<Schema>,
  row: Insertable<Schema['applications']>,
): Promise<void> {
  await trx.insertInto('applications').values(row).execute();
}

/** Deletes an application. */
export async function deleteApplication(trx: Transaction<Schema>, id: string): Promise<void> {
  await trx.deleteFrom('applications').where('id', '=', id).execute();
}
