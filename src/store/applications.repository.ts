/** Applications of a project, as stored: looked up by the project's and the application's names. */
import type { Kysely } from 'kysely';
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
