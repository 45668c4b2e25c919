/**
 * Notifications: outgoing webhooks per project and an outbox of deliveries (webhook calls and e-mails), written in
 * the same transaction as the change they report, so none is lost, and sent by a dispatcher with retries. Users get an
 * e-mail address for approval requests.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `ALTER TABLE users ADD COLUMN email text`,
  `CREATE TABLE webhooks (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    url text NOT NULL,
    secret_enc text NOT NULL,
    events jsonb,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL
  )`,
  `CREATE INDEX webhooks_project ON webhooks (project_id)`,
  `CREATE TABLE notification_deliveries (
    id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('webhook', 'email')),
    webhook_id text REFERENCES webhooks(id) ON DELETE CASCADE,
    recipients jsonb,
    event text NOT NULL,
    payload jsonb NOT NULL,
    state text NOT NULL CHECK (state IN ('PENDING', 'SENDING', 'DELIVERED', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    run_after timestamptz NOT NULL,
    lease_until timestamptz,
    last_error text,
    last_status integer,
    created_at timestamptz NOT NULL,
    delivered_at timestamptz
  )`,
  `CREATE INDEX notification_deliveries_due ON notification_deliveries (state, run_after)`,
  `CREATE INDEX notification_deliveries_webhook ON notification_deliveries (webhook_id, created_at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
