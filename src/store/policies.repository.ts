/**
 * Promotion policies, as stored: a policy row (name, current version), one row per version with its conditions,
 * approvals and separation-of-duties flags, and the application × environment combinations it applies to (one
 * policy per combination).
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Schema } from './schema.ts';

export type PolicyRow = Selectable<Schema['policies']>;
export type PolicyVersionRow = Selectable<Schema['policy_versions']>;

/** The policy named so, if any. */
export async function findPolicyByName(db: Kysely<Schema>, name: string): Promise<PolicyRow | undefined> {
  return db.selectFrom('policies').selectAll().where('name', '=', name).executeTakeFirst();
}

/** The names of every policy, in order. */
export async function policyNames(db: Kysely<Schema>): Promise<string[]> {
  return (await db.selectFrom('policies').select('name').orderBy('name').execute()).map((r) => r.name);
}

/** One version of a policy; throws when there is no such version. */
export async function getPolicyVersion(
  db: Kysely<Schema>,
  policyId: string,
  version: number,
): Promise<PolicyVersionRow> {
  return db
    .selectFrom('policy_versions')
    .selectAll()
    .where('policy_id', '=', policyId)
    .where('version', '=', version)
    .executeTakeFirstOrThrow();
}

/** Where the policy applies, by names: by project, application, then the environment's pipeline position. */
export async function policyAppliesTo(
  db: Kysely<Schema>,
  policyId: string,
): Promise<Array<{ project: string; application: string; environment: string }>> {
  return db
    .selectFrom('policy_bindings')
    .innerJoin('applications', 'applications.id', 'policy_bindings.application_id')
    .innerJoin('environments', 'environments.id', 'policy_bindings.environment_id')
    .innerJoin('projects', 'projects.id', 'applications.project_id')
    .select(['projects.name as project', 'applications.name as application', 'environments.name as environment'])
    .where('policy_bindings.policy_id', '=', policyId)
    .orderBy('projects.name')
    .orderBy('applications.name')
    .orderBy('environments.position')
    .execute();
}

/** Adds a policy. */
export async function insertPolicy(trx: Transaction<Schema>, row: Insertable<Schema['policies']>): Promise<void> {
  await trx.insertInto('policies').values(row).execute();
}

/** Moves a policy to a new current version. */
export async function setPolicyVersion(trx: Transaction<Schema>, id: string, version: number, at: Date): Promise<void> {
  await trx.updateTable('policies').set({ current_version: version, updated_at: at }).where('id', '=', id).execute();
}

/** Adds a version of a policy. */
export async function insertPolicyVersion(
  trx: Transaction<Schema>,
  row: Insertable<Schema['policy_versions']>,
): Promise<void> {
  await trx.insertInto('policy_versions').values(row).execute();
}

/** Deletes a policy. */
export async function deletePolicy(trx: Transaction<Schema>, id: string): Promise<void> {
  await trx.deleteFrom('policies').where('id', '=', id).execute();
}

/** Makes the policy the one that applies to the application in the environment (replacing any before it). */
export async function bindPolicy(
  trx: Transaction<Schema>,
  b: { policy_id: string; application_id: string; environment_id: string },
): Promise<void> {
  await trx
    .deleteFrom('policy_bindings')
    .where('application_id', '=', b.application_id)
    .where('environment_id', '=', b.environment_id)
    .execute();
  await trx.insertInto('policy_bindings').values(b).execute();
}

/** The name of the policy that applies to the application entering the environment (all by name), if any. */
export async function policyNameFor(
  db: Kysely<Schema>,
  project: string,
  application: string,
  environment: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('policy_bindings')
    .innerJoin('policies', 'policies.id', 'policy_bindings.policy_id')
    .innerJoin('applications', 'applications.id', 'policy_bindings.application_id')
    .innerJoin('environments', 'environments.id', 'policy_bindings.environment_id')
    .innerJoin('projects', 'projects.id', 'applications.project_id')
    .select('policies.name as name')
    .where('projects.name', '=', project)
    .where('applications.name', '=', application)
    .where('environments.name', '=', environment)
    .executeTakeFirst();
  return row?.name;
}
