/**
 * Outgoing webhooks of a project: where promotion events are POSTed (URL, the events wanted, a shared secret that
 * signs each body), and what happened to recent deliveries. The secret is sealed at rest and shown once when hoist
 * made it up. Every change is audited.
 */
import type { Kysely } from 'kysely';
import { randomBytes } from 'node:crypto';
import { InvalidInput, NotFound } from '../errors.ts';
import { checkOutboundUrl, OutboundPolicy } from '../net/outbound-policy.ts';
import { recentDeliveries } from '../store/notification-deliveries.repository.ts';
import { projectIdByName } from '../store/projects.repository.ts';
import type { DeliveryState, Schema } from '../store/schema.ts';
import { deleteWebhook, findProjectWebhook, insertWebhook, listWebhooks } from '../store/webhooks.repository.ts';
import { audited, type Actor } from './audited.ts';
import { NOTIFICATION_EVENTS, type NotificationEvent } from './outbox.ts';
import type { SecretBox } from './secret-box.ts';
import { newId } from './tokens.ts';

export interface WebhookInput {
  url: string;
  secret?: string;
  events?: string[] | null;
}

export interface WebhookView {
  id: string;
  url: string;
  events: NotificationEvent[] | null;
  createdBy: string;
  createdAt: string;
}

export interface DeliveryView {
  id: string;
  kind: 'webhook' | 'email';
  event: string;
  state: DeliveryState;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
}

function checkUrl(raw: string, policy: OutboundPolicy): string {
  const checked = checkOutboundUrl(raw, 'webhook', policy);
  if (!checked.ok) throw new InvalidInput(`${checked.message} (e.g. https://ci.example.com/hooks/hoist)`, 'url');
  return checked.url.toString();
}

function checkEvents(events: string[] | null | undefined): NotificationEvent[] | null {
  if (events === undefined || events === null || events.length === 0) return null;
  for (const [i, e] of events.entries()) {
    if (!(NOTIFICATION_EVENTS as readonly string[]).includes(e))
      throw new InvalidInput(`"${e}" is not an event; use ${NOTIFICATION_EVENTS.join(', ')}`, `events[${i}]`);
  }
  return [...new Set(events)] as NotificationEvent[];
}

export class Webhooks {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly box: SecretBox,
    private readonly outbound: OutboundPolicy = new OutboundPolicy(),
  ) {}

  private async projectId(project: string): Promise<string> {
    const id = await projectIdByName(this.db, project);
    if (id === undefined) throw new NotFound('project', project);
    return id;
  }

  /** Adds a webhook; answers the secret too when hoist generated it (it is not shown again). */
  async create(actor: Actor, project: string, input: WebhookInput): Promise<WebhookView & { secret?: string }> {
    const url = checkUrl(input.url, this.outbound);
    const events = checkEvents(input.events);
    if (input.secret !== undefined && input.secret.length < 16)
      throw new InvalidInput('use at least 16 characters, or leave it out and hoist makes one up', 'secret');
    const secret = input.secret ?? randomBytes(24).toString('base64url');
    const projectId = await this.projectId(project);
    const row = {
      id: newId(),
      project_id: projectId,
      url,
      secret_enc: this.box.seal(secret),
      events: JSON.stringify(events),
      created_by: actor.username,
      created_at: new Date(),
    };
    await audited(
      this.db,
      actor,
      { action: 'webhook.create', objectType: 'webhook', objectId: row.id },
      async (trx) => {
        await insertWebhook(trx, row);
        return { result: undefined, summary: { after: { project, url, events } } };
      },
    );
    const view = { id: row.id, url, events, createdBy: actor.username, createdAt: row.created_at.toISOString() };
    return input.secret === undefined ? { ...view, secret } : view;
  }

  async list(project: string): Promise<WebhookView[]> {
    const projectId = await this.projectId(project);
    const rows = await listWebhooks(this.db, projectId);
    return rows.map((r) => ({
      id: r.id,
      url: r.url,
      events: r.events as NotificationEvent[] | null,
      createdBy: r.created_by,
      createdAt: r.created_at.toISOString(),
    }));
  }

  async remove(actor: Actor, project: string, id: string): Promise<void> {
    const projectId = await this.projectId(project);
    const row = await findProjectWebhook(this.db, projectId, id);
    if (!row) throw new NotFound('webhook', id);
    await audited(this.db, actor, { action: 'webhook.delete', objectType: 'webhook', objectId: id }, async (trx) => {
      await deleteWebhook(trx, id);
      return { result: undefined, summary: { before: { project, url: row.url } } };
    });
  }

  /** Recent deliveries of one webhook, newest first. */
  async deliveries(project: string, id: string, limit = 50): Promise<DeliveryView[]> {
    const projectId = await this.projectId(project);
    const hook = await findProjectWebhook(this.db, projectId, id);
    if (!hook) throw new NotFound('webhook', id);
    const rows = await recentDeliveries(this.db, id, Math.min(limit, 500));
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      event: r.event,
      state: r.state,
      attempts: r.attempts,
      lastStatus: r.last_status,
      lastError: r.last_error,
      createdAt: r.created_at.toISOString(),
      deliveredAt: r.delivered_at?.toISOString() ?? null,
      nextAttemptAt: r.state === 'PENDING' ? r.run_after.toISOString() : null,
    }));
  }
}
