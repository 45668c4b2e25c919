/**
 * Bindings, as stored: how an application's version in an environment is chosen (`track-latest` or `pin` to a
 * digest), one row per application and environment, with who set it and when.
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Schema } from './schema.ts';

export type BindingRow = Selectable<Schema['bindings']>;

/** The project's bindings with application and environment names and ids, by application, then pipeline position. */
export async function listProjectBindings(db: Kysely<Schema>, project: string) {
  return db
    .selectFrom('bindings as b')
    .innerJoin('applications as a', 'a.id', 'b.application_id')
    .innerJoin('projects as p', 'p.id', 'a.project_id')
    .innerJoin('environments as e', 'e.id', 'b.environment_id')
    .select([
      'a.name as application',
      'e.name as environment',
      'e.id as envId',
      'a.id as appId',
      'b.mode',
      'b.pinned_digest',
      'b.updated_by',
      'b.updated_at',
      'e.position',
    ])
    .where('p.name', '=', project)
    .orderBy('a.name')
    .orderBy('e.position')
    .execute();
}

/** The binding of the application in the environment, if there is one. */
export async function findBinding(
  db: Kysely<Schema>,
  applicationId: string,
  environmentId: string,
): Promise<BindingRow | undefined> {
  return db
    .selectFrom('bindings')
    .selectAll()
    .where('application_id', '=', applicationId)
    .where('environment_id', '=', environmentId)
    .executeTakeFirst();
}

/** Adds a binding. */
export async function insertBinding(trx: Transaction<Schema>, row: Insertable<Schema['bindings']>): Promise<void> {
  await trx.insertInto('bindings').values(row).execute();
}

/** Replaces the binding of the row's application and environment. */
export async function updateBinding(trx: Transaction<Schema>, row: Insertable<Schema['bindings']>): Promise<void> {
  await trx
    .updateTable('bindings')
    .set(row)
    .where('application_id', '=', row.application_id)
    .where('environment_id', '=', row.environment_id)
    .execute();
}

/** Deletes the binding of the application in the environment. */
export async function deleteApplicationBinding(
  trx: Transaction<Schema>,
  applicationId: string,
  environmentId: string,
): Promise<void> {
  await trx
    .deleteFrom('bindings')
    .where('application_id', '=', applicationId)
    .where('environment_id', '=', environmentId)
    .execute();
}
