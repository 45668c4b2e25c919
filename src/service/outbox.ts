/**
 * The notification outbox. A change that others should hear about (a promotion requested, waiting for approval,
 * approved, rejected, promoted, failed) adds its notices in its own transaction: one delivery row per subscribed
 * webhook of the project, and one e-mail to the people who may approve. Nothing is sent here; the dispatcher sends
 * what committed, so a notice is never lost with a crash nor sent for a change that rolled back.
 */
import type { Transaction } from 'kysely';
import { insertDelivery, membersWithEmail } from '../store/notification-deliveries.repository.ts';
import type { Schema, TargetState } from '../store/schema.ts';
import { webhookSubscriptions } from '../store/webhooks.repository.ts';
import { newId } from './tokens.ts';

export const NOTIFICATION_EVENTS = [
  'promotion.requested',
  'promotion.approval_needed',
  'promotion.approved',
  'promotion.rejected',
  'promotion.promoted',
  'promotion.failed',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export interface PromotionNotice {
  event: NotificationEvent;
  projectId: string;
  project: string;
  application: string;
  requestId: string;
  digest: string;
  from: string;
  /** The target environments this notice is about. */
  environments: string[];
  /** Who did it (`hoist` for the runner). */
  actor: string;
  requestedBy: string;
  comment?: string;
  reason?: string;
  tag?: string | null;
  states?: Record<string, TargetState>;
  /** A release's promotion: its name and every application's digest (`application`/`digest` are its first one's). */
  release?: { name: string; applications: Array<{ application: string; digest: string }> };
}

export class Outbox {
  constructor(
    /** Whether e-mail is configured; without it no e-mails are queued. */
    private readonly emailEnabled: boolean,
    /** Told after a commit that added deliveries, so the dispatcher sends at once. */
    readonly wake: () => void = () => {},
  ) {}

  /**
   * A new request's notices: requested (every target), approval needed (those awaiting it) and one rejection per
   * refused target. The same for a single image and a release.
   */
  async addRequested(
    trx: Transaction<Schema>,
    base: Omit<PromotionNotice, 'event' | 'environments'>,
    targets: ReadonlyArray<{ state: TargetState; environment: { name: string }; reasons: readonly string[] }>,
    states: Record<string, TargetState>,
    now = new Date(),
    hooks?: ReadonlyArray<{ id: string; events: unknown }>,
  ): Promise<void> {
    await this.add(
      trx,
      { ...base, event: 'promotion.requested', environments: Object.keys(states), states },
      now,
      hooks,
    );
    const awaiting = targets.filter((t) => t.state === 'AWAITING_APPROVAL').map((t) => t.environment.name);
    if (awaiting.length > 0)
      await this.add(trx, { ...base, event: 'promotion.approval_needed', environments: awaiting }, now, hooks);
    for (const t of targets.filter((x) => x.state === 'REJECTED'))
      await this.add(
        trx,
        { ...base, event: 'promotion.rejected', environments: [t.environment.name], reason: t.reasons.join('; ') },
        now,
        hooks,
      );
  }

  /**
   * `hooks`: the project's webhooks when the caller read them already (saves a query per notice). Answers how many
   * deliveries were queued: with none, there is nothing to `wake` the dispatchers of every replica for.
   */
  async add(
    trx: Transaction<Schema>,
    notice: PromotionNotice,
    now = new Date(),
    hooks?: ReadonlyArray<{ id: string; events: unknown }>,
  ): Promise<number> {
    let queued = 0;
    const { projectId, ...rest } = notice;
    const payload = JSON.stringify({ ...rest, at: now.toISOString() });
    hooks ??= await webhookSubscriptions(trx, projectId);
    for (const h of hooks) {
      const events = (typeof h.events === 'string' ? JSON.parse(h.events) : h.events) as string[] | null;
      if (events !== null && !events.includes(notice.event)) continue;
      queued++;
      await insertDelivery(trx, {
        id: newId(),
        kind: 'webhook',
        webhook_id: h.id,
        recipients: null,
        event: notice.event,
        payload,
        state: 'PENDING',
        run_after: now,
        created_at: now,
      });
    }
    if (this.emailEnabled && notice.event === 'promotion.approval_needed') {
      const recipients = await approversWithEmail(trx, projectId, notice.environments, notice.requestedBy);
      if (recipients.length > 0) {
        queued++;
        await insertDelivery(trx, {
          id: newId(),
          kind: 'email',
          webhook_id: null,
          recipients: JSON.stringify(recipients),
          event: notice.event,
          payload,
          state: 'PENDING',
          run_after: now,
          created_at: now,
        });
      }
    }
    return queued;
  }
}

/** E-mail addresses of enabled users who may approve in one of the environments (promoter or owner), not the requester. */
async function approversWithEmail(
  trx: Transaction<Schema>,
  projectId: string,
  environments: string[],
  requester: string,
): Promise<string[]> {
  const rows = await membersWithEmail(trx, projectId, ['promoter', 'owner'], requester);
  const emails = rows
    .filter((r) => r.environments === null || environments.some((e) => r.environments?.includes(e)))
    .map((r) => r.email);
  return [...new Set(emails)].sort();
}
