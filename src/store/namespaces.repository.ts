/**
 * Namespace grants: which repository prefixes of which registry a project owns (see namespace-paths.ts for what
 * "under a prefix" means). Grants of one registry are changed under a row lock on that registry, so two admins
 * granting overlapping prefixes at once cannot both succeed.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Schema } from './schema.ts';

export interface GrantRow {
  project: string;
  projectId: string;
  registry: string;
  registryId: string;
  prefix: string;
  createdBy: string;
  createdAt: Date;
}

function grants(db: Kysely<Schema>) {
  return db
    .selectFrom('namespace_grants as g')
    .innerJoin('projects as p', 'p.id', 'g.project_id')
    .innerJoin('registries as r', 'r.id', 'g.registry_id')
    .select([
      'p.name as project',
      'p.id as projectId',
      'r.name as registry',
      'r.id as registryId',
      'g.prefix as prefix',
      'g.created_by as createdBy',
      'g.created_at as createdAt',
    ])
    .orderBy('p.name')
    .orderBy('r.name')
    .orderBy('g.prefix');
}

/** Every grant, or those of some projects (by id). */
export async function listGrants(db: Kysely<Schema>, projectIds?: readonly string[]): Promise<GrantRow[]> {
  if (projectIds !== undefined && projectIds.length === 0) return [];
  const q = grants(db);
  return (projectIds === undefined ? q : q.where('g.project_id', 'in', projectIds)).execute();
}

export async function grantsOnRegistry(db: Kysely<Schema>, registryId: string): Promise<GrantRow[]> {
  return grants(db).where('g.registry_id', '=', registryId).execute();
}

/** Holds the registry's row until the transaction ends: grants on one registry change one at a time. */
export async function lockRegistryGrants(trx: Transaction<Schema>, registryId: string): Promise<void> {
  await sql`SELECT id FROM registries WHERE id = ${registryId} FOR UPDATE`.execute(trx);
}

export async function insertGrant(
  trx: Transaction<Schema>,
  g: { id: string; projectId: string; registryId: string; prefix: string; createdBy: string },
): Promise<void> {
  await trx
    .insertInto('namespace_grants')
    .values({
      id: g.id,
      project_id: g.projectId,
      registry_id: g.registryId,
      prefix: g.prefix,
      created_by: g.createdBy,
      created_at: new Date(),
    })
    .execute();
}

export async function deleteGrant(
  trx: Transaction<Schema>,
  projectId: string,
  registryId: string,
  prefix: string,
): Promise<boolean> {
  const r = await trx
    .deleteFrom('namespace_grants')
    .where('project_id', '=', projectId)
    .where('registry_id', '=', registryId)
    .where('prefix', '=', prefix)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/**
 * A condition for rows naming a registry and a repository (`alias.registry_id`, `alias.repository`): true when the
 * repository lies in a namespace granted to one of the projects. Lists of push events and watches use it so that a
 * member sees only their projects' repositories.
 */
export function inNamespacesOf(projectIds: readonly string[], alias: string) {
  if (projectIds.length === 0) return sql<boolean>`false`;
  const repository = sql.ref(`${alias}.repository`);
  return sql<boolean>`EXISTS (SELECT 1 FROM namespace_grants g
    WHERE g.project_id IN (${sql.join(projectIds)}) AND g.registry_id = ${sql.ref(`${alias}.registry_id`)}
    AND (${repository} = g.prefix OR starts_with(${repository}, g.prefix || '/')))`;
}

/**
 * A condition: the repository (an SQL expression) on registry `registryId` lies in a namespace granted to project
 * `projectId` (both SQL expressions). The promotion runner asks it of a target's source and destination right before
 * copying, so a target whose environment is outside its project's grants (data from before namespaces, a grant
 * changed since) is refused rather than written.
 */
export function grantedTo(
  projectId: RawBuilder<unknown>,
  registryId: RawBuilder<unknown>,
  repository: RawBuilder<unknown>,
) {
  return sql<boolean>`EXISTS (SELECT 1 FROM namespace_grants g
    WHERE g.project_id = ${projectId} AND g.registry_id = ${registryId}
    AND (${repository} = g.prefix OR starts_with(${repository}, g.prefix || '/')))`;
}

export async function projectIdsNamed(db: Kysely<Schema>, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  return (await db.selectFrom('projects').select('id').where('name', 'in', names).execute()).map((p) => p.id);
}
