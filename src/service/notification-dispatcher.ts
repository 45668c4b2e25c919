/**
 * Sends what the outbox holds: webhook calls (a JSON body signed with HMAC-SHA256 over the exact bytes sent, in
 * `X-Hoist-Signature-256: sha256=<hex>`) and approval e-mails. A delivery is claimed with a lease (so replicas and a
 * restarted server share the work), retried with exponential backoff when the receiver is down, times out, answers
 * 5xx, 408 or 429, and given up at once on another 4xx (the receiver refused it; retrying will not help).
 */
import { sql, type Kysely } from 'kysely';
import { createHmac } from 'node:crypto';
import { outboundGuard } from '../net/guarded-lookup.ts';
import { OutboundPolicy } from '../net/outbound-policy.ts';
import { Agent, request, type Response } from '../oci/http.ts';
import type { Schema } from '../store/schema.ts';
import { approvalMail, type Mailer } from './mailer.ts';
import type { PromotionNotice } from './outbox.ts';
import type { SecretBox } from './secret-box.ts';
import { WorkLoop } from './work-loop.ts';

export interface DispatcherOptions {
  maxAttempts?: number;
  /** First retry after this long, doubling each time (capped at 10 minutes). */
  backoffMs?: number;
  timeoutMs?: number;
  leaseMs?: number;
  pollMs?: number;
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
  private readonly o: Required<Omit<DispatcherOptions, 'outbound' | 'log'>>;
  private readonly loop: WorkLoop;
  private readonly agent: Agent;
  private readonly log: DispatcherOptions['log'];

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly box: SecretBox,
    private readonly mailer: Mailer | undefined,
    o: DispatcherOptions = {},
  ) {
    this.o = {
      maxAttempts: o.maxAttempts ?? 8,
      backoffMs: o.backoffMs ?? 2000,
      timeoutMs: o.timeoutMs ?? 10_000,
      leaseMs: o.leaseMs ?? 60_000,
      pollMs: o.pollMs ?? 1000,
    };
    this.log = o.log;
    const guard = outboundGuard(o.outbound ?? new OutboundPolicy(), 'webhook');
    this.agent = new Agent({ connections: 4, idleTimeoutMs: this.o.timeoutMs, guard });
    this.loop = new WorkLoop(() => this.sendOne(), { concurrency: 4, pollMs: this.o.pollMs });
  }

  start(): void {
    this.loop.start();
  }

  notify(): void {
    this.loop.notify();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async claim(now: Date): Promise<string | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('notification_deliveries')
        .select('id')
        .where((eb) =>
          eb.or([
            eb.and([eb('state', '=', 'PENDING'), eb('run_after', '<=', now)]),
            eb.and([eb('state', '=', 'SENDING'), eb('lease_until', '<', now)]),
          ]),
        )
        .orderBy('run_after')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!row) return undefined;
      await trx
        .updateTable('notification_deliveries')
        .set({ state: 'SENDING', lease_until: new Date(now.getTime() + this.o.leaseMs), attempts: sql`attempts + 1` })
        .where('id', '=', row.id)
        .execute();
      return row.id;
    });
  }

  /** Claims and sends one due delivery; answers whether there was one. */
  async sendOne(): Promise<boolean> {
    const id = await this.claim(new Date());
    if (id === undefined) return false;
    const d = await this.db
      .selectFrom('notification_deliveries')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    try {
      const status =
        d.kind === 'webhook'
          ? await this.callWebhook(d.id, d.webhook_id, d.event, d.payload)
          : await this.sendMail(d.recipients ?? [], d.payload as unknown as Omit<PromotionNotice, 'projectId'>);
      await this.db
        .updateTable('notification_deliveries')
        .set({ state: 'DELIVERED', lease_until: null, delivered_at: new Date(), last_status: status, last_error: null })
        .where('id', '=', id)
        .execute();
    } catch (e) {
      const err = e instanceof DeliveryError ? e : new DeliveryError((e as Error).message, true);
      const retry = err.retry && d.attempts + 1 < this.o.maxAttempts;
      const wait = Math.min(600_000, this.o.backoffMs * 2 ** d.attempts);
      await this.db
        .updateTable('notification_deliveries')
        .set({
          state: retry ? 'PENDING' : 'FAILED',
          lease_until: null,
          last_error: err.message,
          last_status: err.status,
          run_after: new Date(Date.now() + (retry ? wait : 0)),
        })
        .where('id', '=', id)
        .execute();
    }
    return true;
  }

  private async callWebhook(
    id: string,
    webhookId: string | null,
    event: string,
    payload: Record<string, unknown>,
  ): Promise<number> {
    const hook =
      webhookId === null
        ? undefined
        : await this.db
            .selectFrom('webhooks')
            .select(['url', 'secret_enc'])
            .where('id', '=', webhookId)
            .executeTakeFirst();
    if (!hook) throw new DeliveryError('the webhook was deleted', false);
    const body = JSON.stringify({ id, ...payload });
    let res: Response;
    try {
      res = await request(hook.url, {
        method: 'POST',
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.o.timeoutMs),
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
    const retry = status >= 500 || status === 408 || status === 429;
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
