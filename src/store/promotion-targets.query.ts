/**
 * Promotion targets with what they belong to: `t` the target, `r` its request, `p` the project, `a` the application,
 * `e` the target environment and `s` the source environment. History, re-evaluation and the runner all start here.
 */
import type { Kysely } from 'kysely';
import type { Schema, TargetState } from './schema.ts';

export function targetsInContext(db: Kysely<Schema>) {
  return db
    .selectFrom('promotion_targets as t')
    .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
    .innerJoin('projects as p', 'p.id', 'r.project_id')
    .innerJoin('applications as a', 'a.id', 'r.application_id')
    .innerJoin('environments as e', 'e.id', 't.environment_id')
    .innerJoin('environments as s', 's.id', 'r.source_env_id');
}

/**
 * The newest promotion of an application into an environment that hoist is still carrying out (QUEUED or PROMOTING),
 * of this digest or of the image the request named by this tag: why the environment may not hold it yet.
 */
export async function promotionUnderway(
  db: Kysely<Schema>,
  applicationId: string,
  environmentId: string,
  image: { tag?: string; digest?: string },
): Promise<{ requestId: string; state: TargetState } | undefined> {
  return db
    .selectFrom('promotion_targets as t')
    .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
    .select(['r.id as requestId', 't.state'])
    .where('r.application_id', '=', applicationId)
    .where('t.environment_id', '=', environmentId)
    .where('t.state', 'in', ['QUEUED', 'PROMOTING'])
    .where(image.digest !== undefined ? 'r.digest' : 'r.tag', '=', image.digest ?? image.tag ?? '')
    .orderBy('r.created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}
