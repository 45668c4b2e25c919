/**
 * Retrying promotions, on both backends, against real registries: a target registry that refuses connections for
 * longer than one attempt is waited out (the target stays QUEUED, showing when it will be tried again and why) and
 * the request ends PROMOTED without a new one, recorded once; after the retry time it is FAILED for good; a
 * permanent failure (the registry denies the push) is FAILED at once; `retry` queues a FAILED target again, once
 * however many people ask at the same time; and only those who may request a promotion to that environment may ask
 * (not a viewer, not a promoter limited to another environment, not another project's member).
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startProxy, type TestProxy } from '../harness/proxy.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';
import { PromotionRunner } from '../../src/service/promotion-runner.ts';
import { runCli } from '../helpers/run-cli.ts';

/** A TCP gate on a fixed port in front of a registry: `down()` closes the port (connections refused), `up()` reopens it. */
interface Gate {
  host: string;
  down(): Promise<void>;
  up(): Promise<void>;
}

async function startGate(to: string): Promise<Gate> {
  const [toHost = '', toPort = ''] = to.split(':');
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const up = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = createConnection(Number(toPort), toHost);
        sockets.add(client).add(upstream);
        const close = (): void => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
        client.pipe(upstream).pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  const down = (): Promise<void> =>
    new Promise((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    });
  await up();
  return { host: `127.0.0.1:${port}`, down, up };
}

let source: TestRegistry;
let target: TestRegistry;
let proxy: TestProxy;
let gate: Gate;
before(async () => {
  [source, target] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startProxy(target.url);
  gate = await startGate(proxy.host);
});
after(async () => {
  await gate?.down();
  await proxy?.stop();
  await Promise.all([source?.stop(), target?.stop()]);
});

const DENIED = { kind: 'status' as const, status: 403, body: '{"errors":[{"code":"DENIED","message":"no push"}]}' };

for (const [b, backend] of BACKENDS.entries()) {
  void describe(`promotion retries [${backend}]`, () => {
    // Images of their own per backend: the registries are shared, and a copy finds what an earlier one wrote.
    const images = [1, 2, 3, 4, 5, 6].map((n) => buildImage({ layers: [3000 + 10 * b + n] }));
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    let next = 0;
    const P = '/api/v1/projects/shop';
    before(async () => {
      // Retried for a minute here, first after 0.2 s, at most 1 s apart (10 minutes, 1 s and 60 s by default).
      api = await startApi(backend, { promotionRetry: { forMs: 60_000, backoffMs: 200, maxBackoffMs: 1000 } });
      const tokens: Record<string, string> = {};
      for (const u of ['devon', 'pat', 'pam', 'vic', 'olga']) tokens[u] = await api.tokenFor(u);
      tokens.root = await api.tokenFor('root', { admin: true });
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'src', url: `http://${source.host}` });
      await as('root', 'POST', '/api/v1/registries', { name: 'dst', url: `http://${gate.host}` });
      for (const project of ['shop', 'other']) await as('root', 'POST', '/api/v1/projects', { name: project });
      await as('root', 'PUT', `${P}/namespaces`, { registry: 'src', prefix: 'dev/' });
      for (const prefix of ['staging/', 'prod/'])
        await as('root', 'PUT', `${P}/namespaces`, { registry: 'dst', prefix });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const [env, registry] of [
        ['dev', 'src'],
        ['staging', 'dst'],
        ['prod', 'dst'],
      ] as const) {
        const r = await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry,
          repository: `${env}/{app}`,
        });
        assert.ok(r.status < 300, JSON.stringify(r.body));
      }
      await as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
        ],
      });
      for (const [u, project, role, envs] of [
        ['devon', 'shop', 'developer', null],
        ['pat', 'shop', 'promoter', null],
        ['pam', 'shop', 'promoter', ['prod']],
        ['vic', 'shop', 'viewer', null],
        ['olga', 'other', 'owner', null],
      ] as const) {
        const m = await as('root', 'POST', `/api/v1/projects/${project}/members`, {
          username: u,
          role,
          environments: envs,
        });
        assert.equal(m.status, 201, JSON.stringify(m.body));
      }
      for (const [i, image] of images.entries()) {
        await pushImage(source.url, 'dev/web', image, { tag: `${backend}-1.${i}` });
        await as('devon', 'POST', `${P}/applications/web/artifacts`, {
          reference: `${source.host}/dev/web:${backend}-1.${i}`,
        });
      }
    });
    beforeEach(() => proxy.clear());
    after(async () => {
      await api?.services.runner.stop();
      await api?.close();
    });

    /** Asks for the next image (1.0, 1.1, ... of this backend) to go to staging; answers the request id. */
    const promote = async (): Promise<string> => {
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: `${backend}-1.${next++}`,
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id as string;
    };
    const staging = async (id: string) => (await as('devon', 'GET', `${P}/promotions/${id}`)).body.targets[0];
    const until = async <T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 45_000): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = await read();
        if (ok(v)) return v;
        if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
        await sleep(100);
      }
    };
    const audit = async (id: string, action: string): Promise<number> => {
      const r = await sql<{ n: string }>`SELECT count(*) AS n FROM audit_log
        WHERE object_id = ${id} AND action = ${action}`.execute(api.database.db);
      return Number(r.rows[0]?.n ?? 0);
    };
    /** A runner of its own (the server's is not started) that retries for `retryForMs`, worked by hand. */
    const runnerFor = (retryForMs: number) =>
      new PromotionRunner(api.database.db, api.services.registries, { retryForMs, backoffMs: 50, maxBackoffMs: 100 });

    test('a target registry down longer than one attempt is waited out: QUEUED with the retry shown, then PROMOTED once', async (t) => {
      await gate.down();
      await api.services.runner.start();
      t.after(() => api.services.runner.stop());
      const id = await promote();
      const waiting = await until(
        'the target waits for a second attempt',
        () => staging(id),
        (t) => t.state === 'QUEUED' && t.retry?.attempts >= 2,
      );
      assert.match(waiting.retry.lastError, /ECONNREFUSED/);
      assert.ok(Date.parse(waiting.retry.at) >= Date.parse(waiting.retry.failingSince));
      const downFor = Date.now();
      await gate.up();
      const done = await until(
        'promoted after the registry came back',
        () => staging(id),
        (t) => t.state === 'PROMOTED',
      );
      assert.equal(done.retry, undefined);
      const recovery = (Date.now() - downFor) / 1000;
      t.diagnostic(
        `promoted ${recovery.toFixed(1)} s after the registry came back (${waiting.retry.attempts} attempts before)`,
      );
      assert.ok(recovery < 15, `promoted ${recovery} s after the registry came back`);
      assert.equal(await audit(id, 'promotion.promoted'), 1);
      assert.equal(await audit(id, 'promotion.failed'), 0);
    });

    test('a registry down for longer than the retry time: FAILED for good, with the error', async () => {
      await gate.down();
      try {
        const id = await promote();
        const runner = runnerFor(1500);
        const started = Date.now();
        while ((await staging(id)).state !== 'FAILED' && Date.now() - started < 30_000) {
          if (!(await runner.runOne())) await sleep(50);
        }
        const failed = await staging(id);
        assert.equal(failed.state, 'FAILED');
        assert.match(failed.reasons.join('; '), /ECONNREFUSED/);
        assert.equal(await audit(id, 'promotion.failed'), 1);
        const attempts = await sql<{ attempts: number }>`SELECT attempts FROM promotion_targets
          WHERE request_id = ${id}`.execute(api.database.db);
        assert.ok(Number(attempts.rows[0]?.attempts) >= 2, 'retried before giving up');
      } finally {
        await gate.up();
      }
    });

    test('a permanent failure is FAILED at once; retry queues it again and it is PROMOTED; two retries at once queue it once', async () => {
      proxy.addFault({ method: 'PUT', pathMatch: /\/staging\/web\/manifests\//, action: DENIED, times: Infinity });
      const id = await promote();
      const runner = runnerFor(60_000);
      assert.equal(await runner.runOne(), true);
      const failed = await staging(id);
      assert.equal(failed.state, 'FAILED', 'no retry for a 403');
      assert.match(failed.reasons.join('; '), /DENIED: no push/);
      assert.equal(await runner.runOne(), false, 'nothing left queued');
      proxy.clear();

      const [a, b] = await Promise.all([
        as('devon', 'POST', `${P}/promotions/${id}/retry`),
        as('pat', 'POST', `${P}/promotions/${id}/retry`, {}),
      ]);
      assert.deepEqual([a.status, b.status].sort(), [200, 409], JSON.stringify([a.body, b.body]));
      const refused = a.status === 409 ? a : b;
      assert.match(refused.body.error.message, /no FAILED target to retry/);
      const queued = a.status === 200 ? a : b;
      assert.equal(queued.body.targets[0].state, 'QUEUED');
      assert.equal(await audit(id, 'promotion.retry'), 1);

      assert.equal(await runner.runOne(), true);
      assert.equal(await runner.runOne(), false, 'queued once');
      assert.equal((await staging(id)).state, 'PROMOTED');
      assert.equal(await audit(id, 'promotion.promoted'), 1);
      const again = await as('devon', 'POST', `${P}/promotions/${id}/retry`);
      assert.equal(again.status, 409, 'a PROMOTED target is never touched');
      assert.equal((await staging(id)).state, 'PROMOTED');
    });

    test('retry re-checks the request: a policy that now refuses the image refuses the retry; the target stays FAILED', async () => {
      proxy.addFault({ method: 'PUT', pathMatch: /\/staging\/web\/manifests\//, action: DENIED, times: 1 });
      const tag = `${backend}-1.${next}`;
      const id = await promote();
      await runnerFor(60_000).runOne();
      assert.equal((await staging(id)).state, 'FAILED');
      const policy = `no-${backend}`;
      await as('root', 'POST', '/api/v1/policies', { name: policy, failConditions: [`image.tag == "${tag}"`] });
      const applied = await as('root', 'POST', `/api/v1/policies/${policy}/apply`, {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
      assert.ok(applied.status < 300, JSON.stringify(applied.body));
      const r = await as('pat', 'POST', `${P}/promotions/${id}/retry`);
      assert.equal(r.status, 409);
      assert.match(r.body.error.message, /^cannot retry: staging: /);
      assert.equal((await staging(id)).state, 'FAILED');
      assert.equal(await audit(id, 'promotion.retry'), 0);
      await as('root', 'POST', `/api/v1/policies/${policy}/unapply`, {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
    });

    test('who may retry: not a viewer, not a promoter limited to another environment, not another project', async () => {
      proxy.addFault({ method: 'PUT', pathMatch: /\/staging\/web\/manifests\//, action: DENIED, times: 1 });
      const id = await promote();
      await runnerFor(60_000).runOne();
      assert.equal((await staging(id)).state, 'FAILED');
      const viewer = await as('vic', 'POST', `${P}/promotions/${id}/retry`);
      assert.equal(viewer.status, 403);
      const limited = await as('pam', 'POST', `${P}/promotions/${id}/retry`);
      assert.equal(limited.status, 403);
      assert.match(limited.body.error.message, /environment "staging"/);
      const outsider = await as('olga', 'POST', `${P}/promotions/${id}/retry`);
      assert.equal(outsider.status, 403);
      const elsewhere = await as('olga', 'POST', `/api/v1/projects/other/promotions/${id}/retry`);
      assert.equal(elsewhere.status, 404);
      assert.equal((await staging(id)).state, 'FAILED', 'nobody above changed it');
      const named = await as('pam', 'POST', `${P}/promotions/${id}/retry`, { environments: ['prod'] });
      assert.equal(named.status, 400, 'the request has no prod target');
      const ok = await as('pat', 'POST', `${P}/promotions/${id}/retry`, { environments: ['staging'] });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.targets[0].state, 'QUEUED');
      await runnerFor(60_000).runOne();
      assert.equal((await staging(id)).state, 'PROMOTED');
    });

    // The CLI is the same on either backend: it runs against the embedded one only (defined there, not skipped here).
    if (backend === 'pglite')
      test('hoist retry ID through the server: a FAILED target queued again; a second time exits 1 with the reason', async () => {
        proxy.addFault({ method: 'PUT', pathMatch: /\/staging\/web\/manifests\//, action: DENIED, times: 1 });
        const id = await promote();
        await runnerFor(60_000).runOne();
        assert.equal((await staging(id)).state, 'FAILED');
        const url = await api.app.listen({ port: 0, host: '127.0.0.1' });
        const env = { HOIST_SERVER: url, HOIST_TOKEN: await api.tokenFor('pat') };
        const first = await runCli(['retry', id, '--project', 'shop', '--for', 'staging', '-o', 'json'], env);
        assert.equal(first.code, 0, first.stderr);
        assert.equal(JSON.parse(first.stdout).targets[0].state, 'QUEUED');
        const second = await runCli(['retry', id, '--project', 'shop'], env);
        assert.equal(second.code, 1);
        assert.match(second.stderr, /no FAILED target to retry \(staging QUEUED\)/);
      });
  });
}
