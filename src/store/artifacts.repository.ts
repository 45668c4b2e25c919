/**
 * Artifacts, as stored: one row per application and digest (where it was registered from, what the registry said
 * about it, its attached reports, its build), and its locations: the environments that hold it, under which tag,
 * since when. The digest an environment holds now is the one that arrived there last.
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { RegistryRow } from './registries.repository.ts';
import type { Schema } from './schema.ts';

export type ArtifactRow = Selectable<Schema['artifacts']>;

/** The artifacts with that digest, by application id (one per application at most). */
export async function artifactIdsByDigest(db: Kysely<Schema>, digest: string): Promise<Map<string, string>> {
  const rows = await db.selectFrom('artifacts').select(['id', 'application_id']).where('digest', '=', digest).execute();
  return new Map(rows.map((r) => [r.application_id, r.id]));
}

/** The id of the application's artifact with that digest, if registered. */
export async function artifactIdByDigest(
  db: Kysely<Schema>,
  applicationId: string,
  digest: string,
): Promise<string | undefined> {
  const r = await db
    .selectFrom('artifacts')
    .select('id')
    .where('application_id', '=', applicationId)
    .where('digest', '=', digest)
    .executeTakeFirst();
  return r?.id;
}

/** The application's artifact with that digest, if registered. */
export async function findArtifact(
  db: Kysely<Schema>,
  applicationId: string,
  digest: string,
): Promise<ArtifactRow | undefined> {
  return db
    .selectFrom('artifacts')
    .selectAll()
    .where('application_id', '=', applicationId)
    .where('digest', '=', digest)
    .executeTakeFirst();
}

/** An artifact by its id. */
export async function findArtifactById(db: Kysely<Schema>, id: string): Promise<ArtifactRow | undefined> {
  return db.selectFrom('artifacts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The application's latest `limit` artifacts, newest first; only those in the environment (by name) when given. */
export async function listArtifacts(
  db: Kysely<Schema>,
  applicationId: string,
  o: { environment?: string; limit: number },
): Promise<ArtifactRow[]> {
  let q = db
    .selectFrom('artifacts')
    .selectAll('artifacts')
    .where('application_id', '=', applicationId)
    .orderBy('registered_at', 'desc')
    .limit(o.limit);
  const environment = o.environment;
  if (environment !== undefined) {
    q = q.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('artifact_locations')
          .innerJoin('environments', 'environments.id', 'artifact_locations.environment_id')
          .select('artifact_locations.artifact_id')
          .whereRef('artifact_locations.artifact_id', '=', 'artifacts.id')
          .where('environments.name', '=', environment),
      ),
    );
  }
  return q.execute();
}

/** Adds an artifact. */
export async function insertArtifact(trx: Transaction<Schema>, row: Insertable<Schema['artifacts']>): Promise<void> {
  await trx.insertInto('artifacts').values(row).execute();
}

/** Records that an environment holds the artifact. */
export async function insertLocation(
  trx: Transaction<Schema>,
  row: Insertable<Schema['artifact_locations']>,
): Promise<void> {
  await trx.insertInto('artifact_locations').values(row).execute();
}

/** Records that an environment holds the artifact unless that is recorded already (by a concurrent arrival). */
export async function addLocationIfMissing(
  trx: Transaction<Schema>,
  row: Insertable<Schema['artifact_locations']>,
): Promise<void> {
  await trx
    .insertInto('artifact_locations')
    .values(row)
    .onConflict((oc) => oc.columns(['artifact_id', 'environment_id']).doNothing())
    .execute();
}

/** The ids of the environments that hold the artifact. */
export async function locationEnvironmentIds(db: Kysely<Schema>, artifactId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('artifact_locations')
    .select('environment_id')
    .where('artifact_id', '=', artifactId)
    .execute();
  return rows.map((l) => l.environment_id);
}

/** Sets the tag under which the environments hold the artifact. */
export async function setLocationTag(
  trx: Transaction<Schema>,
  artifactId: string,
  environmentIds: readonly string[],
  tag: string,
): Promise<void> {
  await trx
    .updateTable('artifact_locations')
    .set({ tag })
    .where('artifact_id', '=', artifactId)
    .where('environment_id', 'in', environmentIds)
    .execute();
}

/** The environments that hold the artifact (name, tag, since), in pipeline order. */
export async function artifactLocations(
  db: Kysely<Schema>,
  artifactId: string,
): Promise<Array<{ environment: string; tag: string | null; since: Date; position: number }>> {
  return db
    .selectFrom('artifact_locations')
    .innerJoin('environments', 'environments.id', 'artifact_locations.environment_id')
    .select([
      'environments.name as environment',
      'artifact_locations.tag as tag',
      'artifact_locations.since as since',
      'environments.position as position',
    ])
    .where('artifact_id', '=', artifactId)
    .orderBy('environments.position')
    .execute();
}

/** The digest of the application that arrived last in the environment, if any. */
export async function currentDigest(
  db: Kysely<Schema>,
  applicationId: string,
  environmentId: string,
): Promise<string | undefined> {
  const r = await db
    .selectFrom('artifact_locations as l')
    .innerJoin('artifacts as x', 'x.id', 'l.artifact_id')
    .select('x.digest')
    .where('l.environment_id', '=', environmentId)
    .where('x.application_id', '=', applicationId)
    .orderBy('l.since', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r?.digest;
}

/** Every artifact with that digest (of any application), with the registry it was registered from. */
export async function artifactsWithDigest(
  db: Kysely<Schema>,
  digest: string,
): Promise<Array<RegistryRow & { artifactId: string; artifactRepository: string }>> {
  return db
    .selectFrom('artifacts')
    .innerJoin('registries', 'registries.id', 'artifacts.registry_id')
    .selectAll('registries')
    .select(['artifacts.id as artifactId', 'artifacts.repository as artifactRepository'])
    .where('artifacts.digest', '=', digest)
    .execute();
}

/** Replaces what an artifact's referrers said (the referrers, the scan and SBOM summaries). */
export async function setArtifactReports(
  db: Kysely<Schema>,
  id: string,
  r: { referrers: string; scan: string | null; sbom: string | null },
): Promise<void> {
  await db.updateTable('artifacts').set(r).where('id', '=', id).execute();
}

/**
 * Every environment in the registry, once per application of its project, with the project's and application's
 * names (which of them hold a pushed repository is the caller's to decide).
 */
export async function environmentsPerApplicationInRegistry(db: Kysely<Schema>, registryId: string) {
  return db
    .selectFrom('environments as e')
    .innerJoin('projects as p', 'p.id', 'e.project_id')
    .innerJoin('applications as a', 'a.project_id', 'e.project_id')
    .selectAll('e')
    .select(['p.name as project', 'a.name as app', 'a.id as applicationId'])
    .where('e.registry_id', '=', registryId)
    .execute();
}

/** An artifact's digest with its application's and project's ids and names, if it exists. */
export async function artifactWithApplication(
  db: Kysely<Schema>,
  artifactId: string,
): Promise<{ digest: string; appId: string; app: string; projectId: string; project: string } | undefined> {
  return db
    .selectFrom('artifacts as x')
    .innerJoin('applications as a', 'a.id', 'x.application_id')
    .innerJoin('projects as p', 'p.id', 'a.project_id')
    .select(['x.digest', 'a.id as appId', 'a.name as app', 'p.id as projectId', 'p.name as project'])
    .where('x.id', '=', artifactId)
    .executeTakeFirst();
}
