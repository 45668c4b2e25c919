/**
 * Policy bindings never vanish as a side effect: deleting what one depends on is refused, naming the bindings and
 * how an admin removes them (`hoist policy unapply`). Used before every delete of a policy, application, environment
 * or project.
 */
import type { Kysely } from 'kysely';
import { Conflict } from '../errors.ts';
import { bindingsDependingOn, type BindingDependency } from '../store/policy-bindings.query.ts';
import type { Schema } from '../store/schema.ts';

export async function refuseIfBound(db: Kysely<Schema>, what: string, on: BindingDependency): Promise<void> {
  const bound = await bindingsDependingOn(db, on);
  if (bound.length === 0) return;
  const list = bound.map((b) => `policy "${b.policy}" on ${b.project}/${b.application} → ${b.environment}`).join(', ');
  throw new Conflict(
    `${what} cannot be deleted: policy bindings depend on it (${list}${bound.length === 20 ? ', …' : ''}); ` +
      'an admin removes them first (hoist policy unapply POLICY PROJECT/APP/ENV)',
  );
}
