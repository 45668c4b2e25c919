/**
 * What the poller's scheduler reads and writes: when each registry's next watch is due, the due watches of one
 * registry, and a check's result — written only while the registry's poll lease (a named lease) is still held with
 * the token it was claimed with, so a replica that stalled mid-check cannot overwrite what the next holder saw.
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import { inNamespacesOf } from './namespaces.repository.ts';
import { leaseStillHeld, type NamedLease } from './named-leases.repository.ts';
import type { Schema } from './schema.ts';

/** The named lease under which one registry's watches are checked (its request budget is then spent once). */
export const pollLeaseName = (registryId: string): string => `poll:${registryId}`;

/** Each registry that has watches, with the earliest time one of them is due. */
export async function nextChecksByRegistry(
  db: Kysely<Schema>,
): Promise<Array<{ registryId: string; nextCheckAt: Date }>> {
  const rows = await db
    .selectFrom('watches')
    .select(['registry_id', (eb) => eb.fn.min('next_check_at').as('next')])
    .groupBy('registry_id')
    .execute();
  return rows.map((r) => ({ registryId: r.registry_id, nextCheckAt: new Date(r.next as Date) }));
}

/** The watches of a registry due at `now`, with what the last check saw and the registry's name and budget. */
export async function dueWatches(db: Kysely<Schema>, registryId: string, now: Date) {
  return db
    .selectFrom('watches as w')
    .innerJoin('registries as r', 'r.id', 'w.registry_id')
    .select([
      'w.id',
      'w.repository',
      'w.tags',
      'w.interval_seconds',
      'w.registry_id',
      'r.name as registry',
      'r.poll_budget',
    ])
    .where('w.registry_id', '=', registryId)
    .where('w.next_check_at', '<=', now)
    .orderBy('w.next_check_at')
    .execute();
}

export type DueWatch = Awaited<ReturnType<typeof dueWatches>>[number];

/** Records a check (tags seen, result, next check) if the poll lease is still held; answers whether it was. */
export async function recordCheck(
  db: Kysely<Schema>,
  lease: NamedLease,
  o: { id: string; tags: Record<string, string>; result: unknown; at: Date; next: Date },
): Promise<boolean> {
  const r = await db
    .updateTable('watches')
    .set({
      tags: JSON.stringify(o.tags),
      last_checked_at: o.at,
      last_result: JSON.stringify(o.result),
      next_check_at: o.next,
    })
    .where('id', '=', o.id)
    .where(leaseStillHeld(lease))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Adds a watch of a registry's repository, or changes its interval when the repository is watched already. */
export async function upsertWatch(trx: Transaction<Schema>, row: Insertable<Schema['watches']>): Promise<void> {
  await trx
    .insertInto('watches')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['registry_id', 'repository']).doUpdateSet({ interval_seconds: row.interval_seconds }),
    )
    .execute();
}

/**
 * Every watch with its registry's name, by registry and repository; with `projectIds`, only those of repositories
 * in the projects' namespaces.
 */
export async function listWatches(
  db: Kysely<Schema>,
  projectIds?: readonly string[],
): Promise<Array<Selectable<Schema['watches']> & { registry: string }>> {
  return db
    .selectFrom('watches as w')
    .innerJoin('registries as r', 'r.id', 'w.registry_id')
    .selectAll('w')
    .select('r.name as registry')
    .$if(projectIds !== undefined, (q) => q.where(inNamespacesOf(projectIds ?? [], 'w')))
    .orderBy('r.name')
    .orderBy('w.repository')
    .execute();
}

/** One watch (its id and repository), if it exists. */
export async function findWatch(
  db: Kysely<Schema>,
  id: string,
): Promise<{ id: string; repository: string } | undefined> {
  return db.selectFrom('watches').select(['id', 'repository']).where('id', '=', id).executeTakeFirst();
}

/** Deletes a watch. */
export async function deleteWatch(trx: Transaction<Schema>, id: string): Promise<void> {
  await trx.deleteFrom('watches').where('id', '=', id).execute();
}
