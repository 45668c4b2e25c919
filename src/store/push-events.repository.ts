/**
 * Push events, as stored: what registries (their hooks, or the poller) said was pushed, each id once, worked by the
 * leased queue (PUSH_EVENT_JOBS in jobs.repository.ts) and kept a while for `hoist events` (listed by
 * push-events.query.ts); and the hook secrets by which a registry's events are recognised (stored hashed).
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { PushEventState, Schema } from './schema.ts';

export type PushEventRow = Selectable<Schema['push_events']>;

/** Records events in one statement, skipping ids already recorded; answers how many were new. */
export async function insertPushEvents(
  db: Kysely<Schema>,
  rows: ReadonlyArray<Insertable<Schema['push_events']>>,
): Promise<number> {
  if (rows.length === 0) return 0;
  const r = await db
    .insertInto('push_events')
    .values([...rows])
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n);
}

/** Deletes events in one of `states` received before `before`; answers how many. */
export async function deletePushEvents(
  db: Kysely<Schema>,
  states: readonly PushEventState[],
  before: Date,
): Promise<number> {
  const r = await db
    .deleteFrom('push_events')
    .where('state', 'in', states)
    .where('received_at', '<', before)
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** One event; throws when it is gone. */
export async function getPushEvent(db: Kysely<Schema>, id: string): Promise<PushEventRow> {
  return db.selectFrom('push_events').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** Replaces the registry's hook secret of that kind. */
export async function replaceHookSecret(
  trx: Transaction<Schema>,
  s: { registryId: string; kind: Schema['hook_secrets']['kind']; secretHash: string; at: Date },
): Promise<void> {
  await trx.deleteFrom('hook_secrets').where('registry_id', '=', s.registryId).where('kind', '=', s.kind).execute();
  await trx
    .insertInto('hook_secrets')
    .values({ registry_id: s.registryId, kind: s.kind, secret_hash: s.secretHash, created_at: s.at })
    .execute();
}

/** The registry whose hook secret of that kind hashes to `secretHash`, if any. */
export async function registryIdByHookSecret(
  db: Kysely<Schema>,
  kind: Schema['hook_secrets']['kind'],
  secretHash: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('hook_secrets')
    .select('registry_id')
    .where('kind', '=', kind)
    .where('secret_hash', '=', secretHash)
    .executeTakeFirst();
  return row?.registry_id;
}

/**
 * Whether another event of this registry for `digest` is still waiting or being worked: a referrer whose subject is
 * no artifact yet may be racing the subject's own event (pushed a moment before it). Open events are few, and found
 * by the state index.
 */
export async function digestInFlight(
  db: Kysely<Schema>,
  o: { registryId: string; digest: string; except: string },
): Promise<boolean> {
  const row = await db
    .selectFrom('push_events')
    .select('id')
    .where('state', 'in', ['PENDING', 'WORKING'])
    .where('registry_id', '=', o.registryId)
    .where('digest', '=', o.digest)
    .where('id', '<>', o.except)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
