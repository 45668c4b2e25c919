/**
 * The notification outbox, as stored: one delivery row per webhook call or e-mail, added in the transaction of the
 * change it tells about and sent later by the dispatcher (the leased queue in jobs.repository.ts claims them), and
 * the members a notice about waiting approvals may be mailed to.
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Schema } from './schema.ts';

export type DeliveryRow = Selectable<Schema['notification_deliveries']>;

/** Adds a delivery to the outbox. */
export async function insertDelivery(
  trx: Transaction<Schema>,
  row: Insertable<Schema['notification_deliveries']>,
): Promise<void> {
  await trx.insertInto('notification_deliveries').values(row).execute();
}

/** One delivery; throws when it is gone. */
export async function getDelivery(db: Kysely<Schema>, id: string): Promise<DeliveryRow> {
  return db.selectFrom('notification_deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** The latest `limit` deliveries of a webhook, newest first. */
export async function recentDeliveries(db: Kysely<Schema>, webhookId: string, limit: number): Promise<DeliveryRow[]> {
  return db
    .selectFrom('notification_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
}

/**
 * Enabled members of the project with an e-mail address and one of the roles, other than `except`, with the
 * environments their membership is limited to (null: all).
 */
export async function membersWithEmail(
  db: Kysely<Schema>,
  projectId: string,
  roles: ReadonlyArray<'promoter' | 'owner'>,
  except: string,
): Promise<Array<{ email: string; username: string; environments: string[] | null }>> {
  const rows = await db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['u.email', 'u.username', 'm.environments'])
    .where('m.project_id', '=', projectId)
    .where('m.role', 'in', roles)
    .where('u.disabled', '=', false)
    .where('u.email', 'is not', null)
    .where('u.username', '!=', except)
    .execute();
  return rows.map((r) => ({
    email: r.email as string,
    username: r.username,
    environments: typeof r.environments === 'string' ? (JSON.parse(r.environments) as string[] | null) : r.environments,
  }));
}
