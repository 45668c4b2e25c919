/** Projects, as stored: looked up by name, listed a page at a time, created, changed and deleted. */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import { paged, type PageQuery } from './paged.ts';
import type { Schema } from './schema.ts';

export type ProjectRow = Selectable<Schema['projects']>;

/** The id of the project named so, if any. */
export async function projectIdByName(db: Kysely<Schema>, name: string): Promise<string | undefined> {
  return (await db.selectFrom('projects').select('id').where('name', '=', name).executeTakeFirst())?.id;
}

/** The project named so, if any. */
export async function findProjectByName(db: Kysely<Schema>, name: string): Promise<ProjectRow | undefined> {
  return db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
}

/**
 * One page of projects by name (one extra row tells whether a page follows), of every project or only of those
 * named in `names`.
 */
export async function listProjects(
  db: Kysely<Schema>,
  names: readonly string[] | undefined,
  p: PageQuery,
): Promise<ProjectRow[]> {
  let q = db.selectFrom('projects').selectAll();
  if (names !== undefined) {
    if (names.length === 0) return [];
    q = q.where('name', 'in', names);
  }
  return paged(q, 'name', p).execute();
}

/** Adds a project. */
export async function insertProject(trx: Transaction<Schema>, row: Insertable<Schema['projects']>): Promise<void> {
  await trx.insertInto('projects').values(row).execute();
}

/** Replaces the stored fields of a project. */
export async function updateProject(
  trx: Transaction<Schema>,
  id: string,
  row: Insertable<Schema['projects']>,
): Promise<void> {
  await trx.updateTable('projects').set(row).where('id', '=', id).execute();
}

/** Deletes a project. */
export async function deleteProject(trx: Transaction<Schema>, id: string): Promise<void> {
  await trx.deleteFrom('projects').where('id', '=', id).execute();
}
