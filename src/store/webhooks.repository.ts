/**
 * A project's outgoing webhooks, as stored: URL, the events wanted (null for all), the sealed secret, who added it.
 * Lookups of one webhook take the project's id too, so a webhook is found only through its own project.
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Schema } from './schema.ts';

export type WebhookRow = Selectable<Schema['webhooks']>;

/** Adds a webhook. */
export async function insertWebhook(trx: Transaction<Schema>, row: Insertable<Schema['webhooks']>): Promise<void> {
  await trx.insertInto('webhooks').values(row).execute();
}

/** The project's webhooks, oldest first. */
export async function listWebhooks(db: Kysely<Schema>, projectId: string): Promise<WebhookRow[]> {
  return db.selectFrom('webhooks').selectAll().where('project_id', '=', projectId).orderBy('created_at').execute();
}

/** One webhook of the project (its id and URL), if it is the project's. */
export async function findProjectWebhook(
  db: Kysely<Schema>,
  projectId: string,
  id: string,
): Promise<{ id: string; url: string } | undefined> {
  return db
    .selectFrom('webhooks')
    .select(['id', 'url'])
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Deletes a webhook. */
export async function deleteWebhook(trx: Transaction<Schema>, id: string): Promise<void> {
  await trx.deleteFrom('webhooks').where('id', '=', id).execute();
}

/** The project's webhooks with the events each wants (what the outbox needs to address a notice). */
export async function webhookSubscriptions(
  db: Kysely<Schema>,
  projectId: string,
): Promise<Array<{ id: string; events: unknown }>> {
  return db.selectFrom('webhooks').select(['id', 'events']).where('project_id', '=', projectId).execute();
}

/** Where a webhook posts and its sealed secret, if it still exists. */
export async function webhookEndpoint(
  db: Kysely<Schema>,
  id: string,
): Promise<{ url: string; secret_enc: string } | undefined> {
  return db.selectFrom('webhooks').select(['url', 'secret_enc']).where('id', '=', id).executeTakeFirst();
}
