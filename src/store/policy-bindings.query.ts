/**
 * The policy bindings that depend on something about to be deleted (a policy, an application, an environment, or a
 * whole project). Their foreign keys are ON DELETE RESTRICT (migration 0013); services ask here first so the refusal
 * names the bindings instead of surfacing a database error.
 */
import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

export interface DependentBinding {
  policy: string;
  project: string;
  application: string;
  environment: string;
}

export type BindingDependency =
  { policyId: string } | { applicationId: string } | { environmentId: string } | { projectId: string };

export async function bindingsDependingOn(db: Kysely<Schema>, on: BindingDependency): Promise<DependentBinding[]> {
  let q = db
    .selectFrom('policy_bindings as b')
    .innerJoin('policies as pol', 'pol.id', 'b.policy_id')
    .innerJoin('applications as a', 'a.id', 'b.application_id')
    .innerJoin('environments as e', 'e.id', 'b.environment_id')
    .innerJoin('projects as p', 'p.id', 'a.project_id')
    .select(['pol.name as policy', 'p.name as project', 'a.name as application', 'e.name as environment']);
  if ('policyId' in on) q = q.where('b.policy_id', '=', on.policyId);
  else if ('applicationId' in on) q = q.where('b.application_id', '=', on.applicationId);
  else if ('environmentId' in on) q = q.where('b.environment_id', '=', on.environmentId);
  else q = q.where('p.id', '=', on.projectId);
  return q.orderBy('p.name').orderBy('a.name').orderBy('e.name').limit(20).execute();
}

/** Removes one binding (an admin's decision); answers whether there was one. */
export async function deleteBinding(
  db: Kysely<Schema>,
  policyId: string,
  applicationId: string,
  environmentId: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('policy_bindings')
    .where('policy_id', '=', policyId)
    .where('application_id', '=', applicationId)
    .where('environment_id', '=', environmentId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
