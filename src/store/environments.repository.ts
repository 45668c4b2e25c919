/** Environments of a project, as stored: where each lives (registry, repository template) and its place in the line. */
import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

/** The project's environments that live in the registry, with their repository templates. */
export async function environmentsOfProjectInRegistry(
  db: Kysely<Schema>,
  projectId: string,
  registryId: string,
): Promise<Array<{ name: string; repository_template: string }>> {
  return db
    .selectFrom('environments')
    .select(['name', 'repository_template'])
    .where('project_id', '=', projectId)
    .where('registry_id', '=', registryId)
    .execute();
}

/** The id of the project's environment named so, if any. */
export async function environmentIdByName(
  db: Kysely<Schema>,
  projectId: string,
  name: string,
): Promise<string | undefined> {
  return (
    await db
      .selectFrom('environments')
      .select('id')
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst()
  )?.id;
}
