/**
 * Registries hoist copies between, as stored: one row per registry (address, plain-HTTP flag, user name, sealed
 * secret, poll budget), looked up by name, listed a page at a time, and the environments that still point at one.
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import { paged, type PageQuery } from './paged.ts';
import type { Schema } from './schema.ts';

export type RegistryRow = Selectable<Schema['registries']>;

/** What opening a client for a registry needs of its row (src/service/registries.service.ts, `openRow`). */
export type RegistryAccess = Pick<
  RegistryRow,
  'id' | 'name' | 'url' | 'insecure' | 'username' | 'secret_enc' | 'updated_at'
>;

/** One page of registries, ordered by name (one extra row tells whether a page follows). */
export async function listRegistries(db: Kysely<Schema>, p: PageQuery): Promise<RegistryRow[]> {
  return paged(db.selectFrom('registries').selectAll(), 'name', p).execute();
}

/** The registry named so, if any. */
export async function findRegistryByName(db: Kysely<Schema>, name: string): Promise<RegistryRow | undefined> {
  return db.selectFrom('registries').selectAll().where('name', '=', name).executeTakeFirst();
}

/** The id of the registry named so, if any. */
export async function registryIdByName(db: Kysely<Schema>, name: string): Promise<string | undefined> {
  return (await db.selectFrom('registries').select('id').where('name', '=', name).executeTakeFirst())?.id;
}

/** Adds a registry. */
export async function insertRegistry(trx: Transaction<Schema>, row: Insertable<Schema['registries']>): Promise<void> {
  await trx.insertInto('registries').values(row).execute();
}

/** Replaces the stored fields of a registry. */
export async function updateRegistry(
  trx: Transaction<Schema>,
  id: string,
  row: Insertable<Schema['registries']>,
): Promise<void> {
  await trx.updateTable('registries').set(row).where('id', '=', id).execute();
}

/** Deletes a registry. */
export async function deleteRegistry(trx: Transaction<Schema>, id: string): Promise<void> {
  await trx.deleteFrom('registries').where('id', '=', id).execute();
}

/** The environments (with their project's name) that live in the registry. */
export async function environmentsInRegistry(
  db: Kysely<Schema>,
  registryId: string,
): Promise<Array<{ project: string; env: string }>> {
  return db
    .selectFrom('environments')
    .innerJoin('projects', 'projects.id', 'environments.project_id')
    .select(['projects.name as project', 'environments.name as env'])
    .where('registry_id', '=', registryId)
    .execute();
}

/** The name of the registry with that id, if it exists. */
export async function registryNameById(db: Kysely<Schema>, id: string): Promise<string | undefined> {
  return (await db.selectFrom('registries').select('name').where('id', '=', id).executeTakeFirst())?.name;
}

/** The registry known by that name or by that address (host[:port]), if any. */
export async function findRegistryByNameOrHost(
  db: Kysely<Schema>,
  nameOrHost: string,
): Promise<RegistryRow | undefined> {
  return db
    .selectFrom('registries')
    .selectAll()
    .where((eb) => eb.or([eb('name', '=', nameOrHost), eb('url', '=', nameOrHost)]))
    .executeTakeFirst();
}

/** The registry at that address (host[:port]), if any. */
export async function findRegistryByHost(db: Kysely<Schema>, host: string): Promise<RegistryRow | undefined> {
  return db.selectFrom('registries').selectAll().where('url', '=', host).executeTakeFirst();
}

/** The registry with that id, if there is one. */
export async function findRegistryById(db: Kysely<Schema>, id: string): Promise<RegistryRow | undefined> {
  return db.selectFrom('registries').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The registry with that id; throws when there is none. */
export async function getRegistryById(db: Kysely<Schema>, id: string): Promise<RegistryRow> {
  return db.selectFrom('registries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** The name of the registry with that id; throws when there is none. */
export async function getRegistryName(db: Kysely<Schema>, id: string): Promise<string> {
  return (await db.selectFrom('registries').select('name').where('id', '=', id).executeTakeFirstOrThrow()).name;
}
