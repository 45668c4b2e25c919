/**
 * Notifications on both backends: webhooks get every promotion event with an HMAC-SHA256 signature over the exact
 * body, are retried when the receiver fails with 5xx and given up on a 4xx; approvers with an e-mail address get one
 * e-mail (through a real SMTP conversation with a local sink) when a promotion waits for them, and the requester
 * does not.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';
import { startSmtpSink, type SmtpSink } from '../harness/smtp-sink.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../harness/webhook-receiver.ts';
import { smtpMailer } from '../../src/service/mailer.ts';

let reg: TestRegistry;
const image = buildImage({ layers: [1500] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '2.0' });
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`notifications [${backend}]`, () => {
    let api: TestApi;
    let sink: SmtpSink;
    let hook: WebhookReceiver;
    let refusing: WebhookReceiver;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const P = '/api/v1/projects/shop';
    const SECRET = 'a-webhook-secret-of-some-length';
    /** Sends every due delivery, as the dispatcher would. */
    const drain = async (): Promise<void> => {
      while (await api.services.dispatcher.sendOne());
    };

    before(async () => {
      sink = await startSmtpSink();
      hook = await startWebhookReceiver();
      refusing = await startWebhookReceiver();
      api = await startApi(backend, {
        mailer: await smtpMailer({ url: sink.url, from: 'hoist <hoist@example.com>' }),
        dispatcher: { backoffMs: 1 },
      });
      const tokens: Record<string, string> = {};
      for (const u of ['devon', 'pat', 'pam', 'olga']) tokens[u] = await api.tokenFor(u);
      tokens.root = await api.tokenFor('root', { admin: true });
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'staging/', 'prod/'])
        await as('root', 'PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'prod'])
        await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'prod' }] });
      for (const [u, role] of [
        ['devon', 'promoter'],
        ['pat', 'promoter'],
        ['pam', 'owner'],
        ['olga', 'viewer'],
      ] as const)
        await as('root', 'POST', `${P}/members`, { username: u, role });
      for (const u of ['devon', 'pat', 'pam', 'olga'])
        assert.equal((await as('root', 'PATCH', `/api/v1/users/${u}`, { email: `${u}@example.com` })).status, 200);
      await as('root', 'POST', '/api/v1/policies', { name: 'prod-gate', approverCount: 1 });
      await as('root', 'POST', '/api/v1/policies/prod-gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
      });
      await as('root', 'POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:2.0` });
    });
    after(async () => {
      await api?.close();
      await Promise.all([sink?.stop(), hook?.stop(), refusing?.stop()]);
    });

    test('webhook input is checked and the secret is never read back', async () => {
      const badUrl = await as('pam', 'POST', `${P}/webhooks`, { url: 'ftp://example.com/x', secret: SECRET });
      assert.equal(badUrl.status, 400);
      assert.match(badUrl.body.error.message, /^url: use an http or https URL/);
      const badEvent = await as('pam', 'POST', `${P}/webhooks`, {
        url: hook.url,
        events: ['promotion.promoted', 'push'],
      });
      assert.match(badEvent.body.error.message, /^events\[1\]: "push" is not an event/);
      assert.equal((await as('pat', 'POST', `${P}/webhooks`, { url: hook.url })).status, 403, 'owners manage webhooks');
      const made = await as('pam', 'POST', `${P}/webhooks`, { url: refusing.url, events: ['promotion.requested'] });
      assert.equal(made.status, 201);
      assert.equal(made.body.secret.length, 32, 'hoist made up a secret and shows it once');
      const mine = await as('pam', 'POST', `${P}/webhooks`, { url: hook.url, secret: SECRET });
      assert.equal(mine.body.secret, undefined);
      const list = await as('pam', 'GET', `${P}/webhooks`);
      assert.deepEqual(
        list.body.items.map((w: { url: string; events: unknown }) => [w.url, w.events]),
        [
          [refusing.url, ['promotion.requested']],
          [hook.url, null],
        ],
      );
      assert.ok(!JSON.stringify(list.body).includes(SECRET));
    });

    test('a promotion tells the webhooks each step, signed, retrying a failing receiver; approvers get one e-mail', async () => {
      hook.failNext(503);
      refusing.failNext(404);
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: '2.0',
        from: 'dev',
        to: ['prod'],
        comment: 'ship 2.0',
      });
      assert.equal(r.body.targets[0].state, 'AWAITING_APPROVAL');
      await drain();
      const events = () =>
        hook.calls
          .filter((c) => c.status === 200)
          .map((c) => JSON.parse(c.body) as { event: string; requestId: string; environments: string[] });
      // A retried delivery may arrive after later ones; receivers order by `at`.
      assert.deepEqual(
        events()
          .map((e) => e.event)
          .sort(),
        ['promotion.approval_needed', 'promotion.requested'],
      );
      assert.equal(hook.calls[0]?.status, 503, 'the first call failed and was retried');
      for (const c of hook.calls) {
        assert.equal(
          c.headers['x-hoist-signature-256'],
          `sha256=${createHmac('sha256', SECRET).update(c.body).digest('hex')}`,
        );
        assert.equal(c.headers['x-hoist-delivery'], JSON.parse(c.body).id);
      }
      assert.ok(events().every((e) => e.requestId === r.body.id));
      assert.equal(refusing.calls.length, 1, 'a 404 is not retried');

      const mails = await sink.waitFor(1);
      assert.equal(mails.length, 1);
      assert.deepEqual(
        mails[0]?.to,
        ['pam@example.com', 'pat@example.com'],
        'promoters and owners, not the requester, not a viewer',
      );
      assert.match(mails[0]?.data ?? '', /waits for your approval to\s+enter prod/);
      const body = (mails[0]?.data ?? '').replace(/=\r\n/g, ''); // quoted-printable soft line breaks
      assert.match(body, new RegExp(`hoist approve ${r.body.id} --project shop`));
      assert.match(body, new RegExp(`digest: +${image.digest}`));

      await as('pat', 'POST', `${P}/promotions/${r.body.id}/approve`, { comment: 'ok' });
      assert.equal(await api.services.runner.runOne(), true);
      await drain();
      assert.deepEqual(
        events()
          .slice(2)
          .map((e) => e.event),
        ['promotion.approved', 'promotion.promoted'],
      );
      assert.equal((events()[3] as { tag?: string }).tag, '2.0');

      const hooks = (await as('pam', 'GET', `${P}/webhooks`)).body.items as Array<{ id: string; url: string }>;
      const delivered = await as('pam', 'GET', `${P}/webhooks/${hooks[1]?.id}/deliveries`);
      assert.deepEqual(
        Object.fromEntries(
          delivered.body.items.map((d: { event: string; state: string; attempts: number }) => [
            d.event,
            [d.state, d.attempts],
          ]),
        ),
        {
          'promotion.requested': ['DELIVERED', 2],
          'promotion.approval_needed': ['DELIVERED', 1],
          'promotion.approved': ['DELIVERED', 1],
          'promotion.promoted': ['DELIVERED', 1],
        },
      );
      const refused = await as('pam', 'GET', `${P}/webhooks/${hooks[0]?.id}/deliveries`);
      assert.deepEqual(
        refused.body.items.map((d: { state: string; lastStatus: number; attempts: number }) => [
          d.state,
          d.lastStatus,
          d.attempts,
        ]),
        [['FAILED', 404, 1]],
      );
      assert.match(refused.body.items[0].lastError, /answered HTTP 404; not retried/);
      assert.equal(sink.messages.length, 1, 'no e-mail for steps that need nobody');
    });

    test('a rejection is announced with the reason', async () => {
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: '2.0',
        from: 'dev',
        to: ['prod'],
      });
      await as('pat', 'POST', `${P}/promotions/${r.body.id}/reject`, { comment: 'not on a Friday' });
      await drain();
      const last = JSON.parse(hook.calls.at(-1)?.body ?? '{}') as {
        event: string;
        actor: string;
        comment: string;
        states: Record<string, string>;
      };
      assert.deepEqual(
        [last.event, last.actor, last.comment, last.states],
        ['promotion.rejected', 'pat', 'not on a Friday', { prod: 'REJECTED' }],
      );
    });
  });
}
