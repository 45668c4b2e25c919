/**
 * `npm run bench:idle`: what the `npm start` server costs while nobody uses it. Starts what `npm start` starts — two
 * local distribution registries (dev/staging with push events to hoist, prod), `hoist serve` (bin/hoist) on the
 * embedded database in a fresh data directory, the demo pipeline of examples/hoist.yaml with a prod policy — pushes
 * one release so the automation has done something, waits a warm-up, then measures the server process over a fixed
 * idle period from /proc/PID/stat (user + system CPU seconds) and /proc/PID/status (VmRSS sampled, VmHWM).
 * Goal: below 1 % of a core and 250 MB resident. Writes JSON under bench/results/.
 *
 * BENCH_IDLE_WARMUP_S (default 20) and BENCH_IDLE_SECONDS (default 60) set the two periods; `-- restart` measures
 * the server started again on the same data directory (a second `npm start`) rather than the first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HoistClient, signInForToken, type RuleInput } from '../../src/client/index.ts';
import { parseConfig } from '../../src/config/config-file.ts';
import { environmentInput, ruleInput } from '../../src/config/config-plan.ts';
import { freePort } from '../../test/harness/free-port.ts';
import { buildImage } from '../../test/harness/images.ts';
import { pushImage } from '../../test/harness/push.ts';
import { startRegistry } from '../../test/harness/registry.ts';

const WARMUP_S = Number(process.env.BENCH_IDLE_WARMUP_S ?? 20);
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
/** `-- restart`: measure a server restarted on the data directory (as a second npm start) instead of the first. */
const RESTART = process.argv.includes('restart');
const GOAL_CORE_PERCENT = 1;
const GOAL_RSS_MB = 250;
/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ: 100 on Linux). */
const CLOCK_TICKS = 100;
const root = fileURLToPath(new URL('../..', import.meta.url));
const password = 'bench-idle-password';

/** User + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A field of /proc/PID/status in MB (VmRSS, VmHWM). */
function statusMb(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

const dataDir = mkdtempSync(join(tmpdir(), 'hoist-bench-idle-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const hookSecret = `bench-idle-hook-${Date.now()}`;
const registry = await startRegistry({
  notificationsUrl: `${url}/api/v1/hooks/distribution`,
  notificationHeaders: { Authorization: `Bearer ${hookSecret}` },
});
const prodRegistry = await startRegistry();
const hosts: Record<string, string> = { local: registry.host, 'prod-registry': prodRegistry.host };

const serve = (): ChildProcess =>
  spawn(join(root, 'bin/hoist'), ['serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128', HOIST_ADMIN_PASSWORD: password },
  });
const stop = async (p: ChildProcess): Promise<void> => {
  if (p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise((r) => p.once('exit', r));
};
/** Answers the server's pid once it is ready (bin/hoist execs node: the server is that very process, checked). */
async function ready(p: ChildProcess): Promise<number> {
  for (let i = 0; ; i++) {
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (p.exitCode !== null || i > 300) throw new Error('hoist serve did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  const pid = p.pid as number;
  if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('serve')) throw new Error(`pid ${pid} is not the server`);
  return pid;
}
let server = serve();
const stopAll = async (): Promise<void> => {
  await stop(server);
  await Promise.all([registry.stop(), prodRegistry.stop()]);
  rmSync(dataDir, { recursive: true, force: true });
};

try {
  let pid = await ready(server);

  // The demo pipeline, as npm start applies it.
  const c = new HoistClient(url, await signInForToken(url, 'admin', password, 'bench-idle', 1));
  const spec = parseConfig(readFileSync(join(root, 'examples/hoist.yaml'), 'utf8'), 'examples/hoist.yaml');
  if (!spec.ok) throw new Error('examples/hoist.yaml does not parse');
  for (const r of spec.value.registries)
    await c.registries.put({ name: r.name, url: `http://${hosts[r.name] ?? registry.host}` });
  for (const p of spec.value.projects) {
    await c.projects.create(p.name, p.description);
    for (const n of p.namespaces ?? []) await c.projects.grantNamespace(p.name, n.registry, n.prefix);
    for (const a of p.applications) await c.projects.addApplication(p.name, a);
    for (const [position, e] of p.environments.entries())
      await c.environments.put(p.name, environmentInput(e, position));
    await c.environments.setPipeline(p.name, p.pipeline);
    for (const r of p.rules) await c.rules.create(p.name, ruleInput(r) as RuleInput);
  }
  await c.events.setSecret('local', 'distribution', hookSecret);
  await c.policies.put({ name: 'prod-gate', passConditions: [], failConditions: [], approverCount: 1 });
  await c.policies.apply('prod-gate', [{ project: 'shop', application: 'web', environment: 'prod' }]);
  // One release through the automation (the rule "releases" promotes dev/web:v* to staging) before going idle.
  await pushImage(registry.url, 'dev/web', buildImage({ layers: [1 << 20] }), { tag: 'v1' });
  for (let i = 0; i < 150 && (await c.artifacts.list('shop', 'web', 'staging')).length === 0; i++)
    await new Promise((r) => setTimeout(r, 200));
  if (RESTART) {
    // The next npm start: the same data directory, no initdb, nothing set up.
    await stop(server);
    server = serve();
    pid = await ready(server);
  }

  process.stderr.write(`warming up for ${WARMUP_S} s, then measuring ${IDLE_S} s of idleness (pid ${pid})\n`);
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const cpuBefore = cpuSeconds(pid);
  const started = process.hrtime.bigint();
  const rss: number[] = [];
  for (let s = 0; s < IDLE_S; s += 5) {
    await new Promise((r) => setTimeout(r, Math.min(5, IDLE_S - s) * 1000));
    rss.push(statusMb(pid, 'VmRSS'));
  }
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuSeconds(pid) - cpuBefore;
  const corePercent = (cpu / wallSeconds) * 100;
  const rssMb = Math.max(...rss);
  const result = {
    bench: 'idle',
    timestamp: new Date().toISOString(),
    node: process.version,
    database: 'embedded',
    start: RESTART ? 'restart' : 'fresh',
    warmupSeconds: WARMUP_S,
    idleSeconds: Number(wallSeconds.toFixed(1)),
    cpuSeconds: Number(cpu.toFixed(2)),
    corePercent: Number(corePercent.toFixed(2)),
    rssMb: Number(rssMb.toFixed(1)),
    rssSamplesMb: rss.map((x) => Number(x.toFixed(1))),
    peakRssMb: Number(statusMb(pid, 'VmHWM').toFixed(1)),
    staged: (await c.artifacts.list('shop', 'web', 'staging')).length,
    goals: { corePercent: GOAL_CORE_PERCENT, rssMb: GOAL_RSS_MB },
    met: corePercent < GOAL_CORE_PERCENT && rssMb < GOAL_RSS_MB,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}idle-${result.timestamp.replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await stopAll();
}
