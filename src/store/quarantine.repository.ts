/** Quarantined digests, as stored (why, by whom, when), and the rejection of targets still open for one. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Schema, TargetState } from './schema.ts';

export type QuarantineRow = Selectable<Schema['quarantine']>;

/**
 * Quarantined digests, newest first: every one, or (with `projectIds`) only those that are artifacts of one of those
 * projects, so a member never learns another project's digests or the reasons they were quarantined.
 */
export async function listQuarantine(db: Kysely<Schema>, projectIds?: readonly string[]): Promise<QuarantineRow[]> {
  if (projectIds !== undefined && projectIds.length === 0) return [];
  let q = db.selectFrom('quarantine as q').selectAll('q').orderBy('q.at', 'desc');
  if (projectIds !== undefined) {
    q = q.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('artifacts as a')
          .innerJoin('applications as app', 'app.id', 'a.application_id')
          .select('a.id')
          .whereRef('a.digest', '=', 'q.digest')
          .where('app.project_id', 'in', projectIds),
      ),
    );
  }
  return q.execute();
}

/** The quarantine entry of a digest, if it is quarantined. */
export async function findQuarantine(db: Kysely<Schema>, digest: string): Promise<QuarantineRow | undefined> {
  return db.selectFrom('quarantine').selectAll().where('digest', '=', digest).executeTakeFirst();
}

/** Whether the digest is quarantined. */
export async function isQuarantined(db: Kysely<Schema>, digest: string): Promise<boolean> {
  return (
    (await db.selectFrom('quarantine').select('digest').where('digest', '=', digest).executeTakeFirst()) !== undefined
  );
}

/** Quarantines a digest. */
export async function insertQuarantine(
  trx: Transaction<Schema>,
  q: { digest: string; reason: string; byUser: string; at: Date },
): Promise<void> {
  await trx
    .insertInto('quarantine')
    .values({ digest: q.digest, reason: q.reason, by_user: q.byUser, at: q.at })
    .execute();
}

/** Lifts the quarantine of a digest. */
export async function deleteQuarantine(trx: Transaction<Schema>, digest: string): Promise<void> {
  await trx.deleteFrom('quarantine').where('digest', '=', digest).execute();
}

/** Rejects the targets in one of `states` of every request for the digest (lease dropped); answers how many. */
export async function rejectTargetsOfDigest(
  trx: Transaction<Schema>,
  o: { digest: string; states: readonly TargetState[]; reason: string; at: Date },
): Promise<number> {
  const r = await trx
    .updateTable('promotion_targets')
    .set({ state: 'REJECTED', reason: o.reason, updated_at: o.at, lease_until: null })
    .where('state', 'in', o.states)
    .where('request_id', 'in', (eb) => eb.selectFrom('promotion_requests').select('id').where('digest', '=', o.digest))
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
