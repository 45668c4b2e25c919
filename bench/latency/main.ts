/**
 * `npm run bench:latency`: push → promoted latency. A real distribution registry has `notifications` pointed at an
 * in-process hoist server (embedded database, intake queue and promotion runner running) with a rule dev → staging.
 *   1. N images (default 50) pushed one at a time to dev; for each, from push complete (manifest PUT answered) to the
 *      tag visible in staging (HEAD answers 200). Targets: p50 ≤ 300 ms, p99 ≤ 1 s.
 *   2. A burst of B images (default 100) pushed at once: all promoted, none twice.
 *   3. Side by side, the same with polling instead of events (hoist's poller, interval BENCH_POLL_INTERVAL seconds,
 *      default 5; Kargo's default is 5 minutes), for BENCH_POLL images (default 5; 0 skips it).
 * Writes JSON under bench/results/.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HoistClient } from '../../src/client/index.ts';
import { buildServer } from '../../src/api/server.ts';
import { createServices } from '../../src/api/services.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { openDatabase } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { startRegistry, type TestRegistry } from '../../test/harness/registry.ts';
import { buildImage } from '../../test/harness/images.ts';
import { MANIFEST_ACCEPT } from '../../test/harness/media-types.ts';
import { pushImage } from '../../test/harness/push.ts';

const N = Number(process.env.BENCH_PUSHES ?? 50);
const BURST = Number(process.env.BENCH_BURST ?? 100);
const POLL_N = Number(process.env.BENCH_POLL ?? 5);
const POLL_INTERVAL = Number(process.env.BENCH_POLL_INTERVAL ?? 5);
const SECRET = randomBytes(24).toString('hex');
const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const round = (x: number): number => Math.round(x * 10) / 10;

async function visible(reg: TestRegistry, repo: string, tag: string): Promise<boolean> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT },
  });
  return res.status === 200;
}

/** Milliseconds from now until the tag answers, polling every 2 ms. */
async function waitVisible(reg: TestRegistry, repo: string, tag: string, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  while (!(await visible(reg, repo, tag))) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${repo}:${tag} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - t0;
}

const database = await openDatabase({});
await migrate(database.db as never);
// The bench registries listen on loopback: allow it, as an admin would with HOIST_OUTBOUND_ALLOW.
const services = createServices(database, new SecretBox(randomBytes(32)), {
  outbound: OutboundPolicy.fromList('127.0.0.0/8,::1/128'),
});
await services.accounts.bootstrapAdmin('bench-password-1');
const app = await buildServer(services);
const base = await app.listen({ port: 0, host: '127.0.0.1' });
const events = await startRegistry({
  notificationsUrl: `${base}/api/v1/hooks/distribution`,
  notificationHeaders: { Authorization: `Bearer ${SECRET}` },
});
const quiet = await startRegistry();
await services.runner.start();
await services.attestor?.start();
await services.intake.start();
await services.poller.start();
try {
  const admin = await services.accounts.login('admin', 'bench-password-1', '127.0.0.1');
  const c = new HoistClient(
    base,
    (await services.accounts.createToken({ userId: admin.id, username: 'admin' }, 'bench')).token,
  );
  await c.registries.put({ name: 'events', url: `http://${events.host}` });
  await c.registries.put({ name: 'quiet', url: `http://${quiet.host}` });
  await c.events.setSecret('events', 'distribution', SECRET);
  await c.projects.create('bench');
  await c.projects.addApplication('bench', 'web');
  for (const prefix of ['dev/', 'staging/']) await c.projects.grantNamespace('bench', 'events', prefix);
  for (const prefix of ['qdev/', 'qstaging/']) await c.projects.grantNamespace('bench', 'quiet', prefix);
  for (const [name, registry] of [
    ['dev', 'events'],
    ['staging', 'events'],
    ['qdev', 'quiet'],
    ['qstaging', 'quiet'],
  ] as const) {
    await c.environments.put('bench', { name, kind: 'repository', registry, repository: `${name}/{app}` });
  }
  await c.environments.setPipeline('bench', [
    { from: 'dev', to: 'staging' },
    { from: 'qdev', to: 'qstaging' },
  ]);
  await c.rules.create('bench', {
    name: 'flow',
    from: 'dev',
    to: 'staging',
    criteria: [{ field: 'tag', op: 'startsWith', value: 'b' }],
  });
  await c.rules.create('bench', { name: 'qflow', from: 'qdev', to: 'qstaging' });

  process.stderr.write(`1. ${N} pushes one at a time, push complete → visible in staging\n`);
  const latencies: number[] = [];
  for (let i = 0; i < N; i++) {
    await pushImage(events.url, 'dev/web', buildImage({ layers: [4096] }), { tag: `b${i}` });
    latencies.push(await waitVisible(events, 'staging/web', `b${i}`));
  }

  process.stderr.write(`2. a burst of ${BURST} pushes at once\n`);
  const burstStart = performance.now();
  const images = Array.from({ length: BURST }, () => buildImage({ layers: [2048] }));
  for (let i = 0; i < BURST; i += 20)
    await Promise.all(
      images.slice(i, i + 20).map((img, k) => pushImage(events.url, 'dev/web', img, { tag: `burst${i + k}` })),
    );
  const pushedIn = performance.now() - burstStart;
  await Promise.all(images.map((_, i) => waitVisible(events, 'staging/web', `burst${i}`, 120_000)));
  const burstSeconds = (performance.now() - burstStart) / 1000;
  const history = await c.promotions.history('bench', { env: 'staging', limit: 1000 });
  const perDigest = new Map<string, number>();
  for (const h of history) if (h.state === 'PROMOTED') perDigest.set(h.digest, (perDigest.get(h.digest) ?? 0) + 1);
  const burstPromoted = images.filter((img) => perDigest.get(img.digest) === 1).length;
  const twice = images.filter((img) => (perDigest.get(img.digest) ?? 0) > 1).length;

  const polled: number[] = [];
  if (POLL_N > 0) {
    process.stderr.write(`3. ${POLL_N} pushes with polling every ${POLL_INTERVAL} s instead of events\n`);
    await c.watches.add('quiet/qdev/web', POLL_INTERVAL);
    for (let i = 0; i < POLL_N; i++) {
      await pushImage(quiet.url, 'qdev/web', buildImage({ layers: [4096] }), { tag: `p${i}` });
      polled.push(await waitVisible(quiet, 'qstaging/web', `p${i}`, (POLL_INTERVAL + 30) * 1000));
    }
  }

  const result = {
    timestamp: new Date().toISOString(),
    pushes: N,
    p50ms: round(percentile(latencies, 50)),
    p99ms: round(percentile(latencies, 99)),
    maxms: round(Math.max(...latencies)),
    burst: {
      images: BURST,
      pushSeconds: round(pushedIn / 1000),
      allVisibleSeconds: round(burstSeconds),
      promotedOnce: burstPromoted,
      promotedTwice: twice,
    },
    polling:
      POLL_N > 0
        ? {
            images: POLL_N,
            intervalSeconds: POLL_INTERVAL,
            p50ms: round(percentile(polled, 50)),
            maxms: round(Math.max(...polled)),
          }
        : null,
    targets: 'events p50 ≤ 300 ms, p99 ≤ 1000 ms; burst all promoted, none twice',
  };
  const pass = result.p50ms <= 300 && result.p99ms <= 1000 && burstPromoted === BURST && twice === 0;
  process.stdout.write(
    [
      `push → visible in staging over ${N} pushes (events, embedded database): p50 ${result.p50ms} ms, p99 ${result.p99ms} ms, max ${result.maxms} ms`,
      `burst of ${BURST}: pushed in ${result.burst.pushSeconds} s, all in staging after ${result.burst.allVisibleSeconds} s; promoted once: ${burstPromoted}, twice: ${twice}`,
      result.polling
        ? `polling every ${POLL_INTERVAL} s instead: p50 ${result.polling.p50ms} ms, max ${result.polling.maxms} ms (${round(result.polling.p50ms / Math.max(1, result.p50ms))}× the event p50)`
        : 'polling comparison skipped',
      `targets (p50 ≤ 300 ms, p99 ≤ 1 s, burst exact): ${pass ? 'PASS' : 'MISS'}`,
      '',
    ].join('\n'),
  );
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}latency-${result.timestamp.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await services.poller.stop();
  await services.intake.stop();
  await services.runner.stop();
  await services.attestor?.stop();
  await app.close();
  await database.close();
  await Promise.all([events.stop(), quiet.stop()]);
}
