/**
 * Promotion targets with what they belong to: `t` the target, `r` its request, `p` the project, `a` the application,
 * `e` the target environment and `s` the source environment. History, re-evaluation and the runner all start here.
 */
import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

export function targetsInContext(db: Kysely<Schema>) {
  return db
    .selectFrom('promotion_targets as t')
    .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
    .innerJoin('projects as p', 'p.id', 'r.project_id')
    .innerJoin('applications as a', 'a.id', 'r.application_id')
    .innerJoin('environments as e', 'e.id', 't.environment_id')
    .innerJoin('environments as s', 's.id', 'r.source_env_id');
}
