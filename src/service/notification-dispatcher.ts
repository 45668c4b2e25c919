/**
 * Sends what the outbox holds: webhook calls (a JSON body signed with HMAC-SHA256 over the exact bytes sent, in
 * `X-Hoist-Signature-256: sha256=<hex>`) and approval e-mails. Deliveries are jobs of the leased queue (so replicas
 * and a restarted server share the work): retried with the queue's backoff when the receiver is down, times out,
 * answers 5xx, 408 or 429, `maxAttempts` times in all, and given up at once on another 4xx (the receiver refused
 * it; retrying will not help).
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { isTransient, isTransientStatus } from '../oci/transient.ts';
import { NOTIFICATION_JOBS, settleJob } from '../store/jobs.repository.ts';
import { getDelivery } from '../store/notification-deliveries.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import { webhookEndpoint } from '../store/webhooks.repository.ts';
import { LeasedQueue, type Job } from './leased-queue.ts';
import { createHmac } from 'node:crypto';
import { outboundGuard } from '../net/guarded-lookup.ts';
import { OutboundPolicy } from '../net/outbound-policy.ts';
import { Agent, request, type Response } from '../oci/http.ts';
import type { Schema } from '../store/schema.ts';
import { approvalMail, type Mailer } from './mailer.ts';
import type { PromotionNotice } from './outbox.ts';
import type { SecretBox } from './secret-box.ts';

export interface DispatcherOptions {
  /** Attempts in all, the first included (default 8). */
  maxAttempts?: number;
  /** First retry after about this long, doubling each time (capped at 10 minutes). */
  backoffMs?: number;
  timeoutMs?: number;
  leaseMs?: number;
  concurrency?: number;
  logger?: Logger;
  notifier?: Notifier;
  /** Where webhooks may connect (default: public addresses only). */
  outbound?: OutboundPolicy;
  /** The server log: why a delivery could not connect is written here, not shown to project owners. */
  log?: { warn(obj: object, msg: string): void };
}

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export class NotificationDispatcher {
  readonly queue: LeasedQueue;
  private readonly timeoutMs: number;
  private readonly agent: Agent;
  private readonly log: DispatcherOptions['log'];

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly box: SecretBox,
    private readonly mailer: Mailer | undefined,
    o: DispatcherOptions = {},
  ) {
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.log = o.log;
    const guard = outboundGuard(o.outbound ?? new OutboundPolicy(), 'webhook');
    this.agent = new Agent({ connections: 4, idleTimeoutMs: this.timeoutMs, guard });
    this.queue = new LeasedQueue(
      db,
      NOTIFICATION_JOBS,
      {
        run: (job) => this.send(job),
        giveUp: (job, error) =>
          settleJob(db, NOTIFICATION_JOBS, job, {
            state: 'FAILED',
            last_error: error.message,
            last_status: error instanceof DeliveryError ? error.status : null,
          }),
        retryValues: (error) => ({ last_status: error instanceof DeliveryError ? error.status : null }),
      },
      {
        name: 'notifications',
        leaseMs: o.leaseMs ?? 30_000,
        maxAttempts: o.maxAttempts ?? 8,
        concurrency: o.concurrency ?? 4,
        backoff: { baseDelayMs: o.backoffMs ?? 2000, maxDelayMs: 600_000 },
        logger: (o.logger ?? pino({ level: 'silent' })).child({ queue: 'notifications' }),
        transient: (e) => (e instanceof DeliveryError ? e.retry : isTransient(e)),
        ...(o.notifier ? { notifier: o.notifier } : {}),
      },
    );
  }

  start(): Promise<void> {
    return this.queue.start();
  }

  notify(): void {
    this.queue.notify();
  }

  stop(graceMs = 0): Promise<void> {
    return this.queue.stop(graceMs);
  }

  /** Claims and sends one due delivery; answers whether there was one. */
  sendOne(): Promise<boolean> {
    return this.queue.runOne();
  }

  private async send(job: Job): Promise<void> {
    const d = await getDelivery(this.db, job.id);
    const status =
      d.kind === 'webhook'
        ? await this.callWebhook(d.id, d.webhook_id, d.event, d.payload, job.signal)
        : await this.sendMail(d.recipients ?? [], d.payload as unknown as Omit<PromotionNotice, 'projectId'>);
    await settleJob(this.db, NOTIFICATION_JOBS, job, {
      state: 'DELIVERED',
      delivered_at: new Date(),
      last_status: status,
      last_error: null,
    });
  }

  private async callWebhook(
    id: string,
    webhookId: string | null,
    event: string,
    payload: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<number> {
    const hook = webhookId === null ? undefined : await webhookEndpoint(this.db, webhookId);
    if (!hook) throw new DeliveryError('the webhook was deleted', false);
    const body = JSON.stringify({ id, ...payload });
    let res: Response;
    try {
      res = await request(hook.url, {
        method: 'POST',
        dispatcher: this.agent,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'hoist-webhook/1',
          'x-hoist-event': event,
          'x-hoist-delivery': id,
          'x-hoist-signature-256': signBody(this.box.open(hook.secret_enc), body),
        },
        body: Buffer.from(body),
      });
      await res.body.dump();
    } catch (e) {
      if (signal.aborted) throw e;
      // Owners read delivery errors: "connection refused" against "timed out" against "answered" would map the
      // server's network for them. The reason goes to the server log; the owner learns only that it failed.
      const err = e as Error & { code?: string };
      this.log?.warn(
        { delivery: id, url: hook.url, err: { message: err.message, code: err.code } },
        'webhook not delivered',
      );
      if (err.code === 'EOUTBOUND')
        throw new DeliveryError(`POST ${hook.url}: the address is not allowed by this server's outbound policy`, false);
      throw new DeliveryError(
        `POST ${hook.url}: could not deliver (no HTTP answer; the server log has the reason)`,
        true,
      );
    }
    const status = res.statusCode;
    if (status >= 200 && status < 300) return status;
    const retry = isTransientStatus(status);
    throw new DeliveryError(
      `POST ${hook.url} answered HTTP ${status}${retry ? '' : '; not retried (fix the receiver, then send a new event)'}`,
      retry,
      status,
    );
  }

  private async sendMail(to: string[], payload: Omit<PromotionNotice, 'projectId'>): Promise<null> {
    if (!this.mailer)
      throw new DeliveryError('e-mail is not configured on this server (hoist serve --smtp-url)', false);
    const m = approvalMail(payload);
    await this.mailer.send(to, m.subject, m.text);
    return null;
  }
}
