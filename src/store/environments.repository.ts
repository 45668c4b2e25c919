/** Environments of a project, as stored: where each lives (registry, repository template) and its place in the line. */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
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

export type EnvironmentRow = Selectable<Schema['environments']>;

/** The project's environments with their registry's name, in pipeline position, then name order. */
export async function listEnvironmentRows(
  db: Kysely<Schema>,
  projectId: string,
): Promise<Array<EnvironmentRow & { registry: string }>> {
  return db
    .selectFrom('environments')
    .innerJoin('registries', 'registries.id', 'environments.registry_id')
    .selectAll('environments')
    .select('registries.name as registry')
    .where('project_id', '=', projectId)
    .orderBy('position')
    .orderBy('environments.name')
    .execute();
}

/** Adds an environment. */
export async function insertEnvironment(
  trx: Transaction<Schema>,
  row: Insertable<Schema['environments']>,
): Promise<void> {
  await trx.insertInto('environments').values(row).execute();
}

/** Replaces the stored fields of an environment. */
export async function updateEnvironment(
  trx: Transaction<Schema>,
  id: string,
  row: Insertable<Schema['environments']>,
): Promise<void> {
  await trx.updateTable('environments').set(row).where('id', '=', id).execute();
}

/** Deletes an environment. */
export async function deleteEnvironment(trx: Transaction<Schema>, id: string): Promise<void> {
  await trx.deleteFrom('environments').where('id', '=', id).execute();
}

/** The project's promotion edges by environment names, with both ends' positions (unordered). */
export async function pipelineEdges(
  db: Kysely<Schema>,
  projectId: string,
): Promise<Array<{ from: string; to: string; fp: number; tp: number }>> {
  return db
    .selectFrom('pipeline_edges')
    .innerJoin('environments as f', 'f.id', 'pipeline_edges.from_env_id')
    .innerJoin('environments as t', 't.id', 'pipeline_edges.to_env_id')
    .select(['f.name as from', 't.name as to', 'f.position as fp', 't.position as tp'])
    .where('pipeline_edges.project_id', '=', projectId)
    .execute();
}

/** Deletes every promotion edge of the project. */
export async function deletePipelineEdges(trx: Transaction<Schema>, projectId: string): Promise<void> {
  await trx.deleteFrom('pipeline_edges').where('project_id', '=', projectId).execute();
}

/** Adds a promotion edge. */
export async function insertPipelineEdge(
  trx: Transaction<Schema>,
  row: Insertable<Schema['pipeline_edges']>,
): Promise<void> {
  await trx.insertInto('pipeline_edges').values(row).execute();
}

/** The names of the project's environments, or of its protected ones only. */
export async function environmentNames(
  db: Kysely<Schema>,
  projectId: string,
  o: { protectedOnly?: boolean } = {},
): Promise<string[]> {
  let q = db.selectFrom('environments').select('name').where('project_id', '=', projectId);
  if (o.protectedOnly) q = q.where('protected', '=', true);
  return (await q.execute()).map((e) => e.name);
}

/** The project's environments that live in the registry (whole rows). */
export async function environmentRowsInRegistry(
  db: Kysely<Schema>,
  projectId: string,
  registryId: string,
): Promise<EnvironmentRow[]> {
  return db
    .selectFrom('environments')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('registry_id', '=', registryId)
    .execute();
}

/** The project's environment named so, if any. */
export async function findEnvironmentByName(
  db: Kysely<Schema>,
  projectId: string,
  name: string,
): Promise<EnvironmentRow | undefined> {
  return db
    .selectFrom('environments')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
}
