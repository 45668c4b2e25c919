/**
 * Where a `hoist copy` process spends its time, per benchmark case: `bash scripts/node.sh --import tsx
 * bench/copy/timeline.ts [b,c,d,e,g]`. Runs the bundled CLI with bench/copy/trace.mjs loaded first and prints, per
 * case, Node's start-up (until the hook ran), hoist's own start-up (until its first request), then every request
 * (ms since the process began: start → response headers → end) and the exit, beside skopeo's whole time for the same
 * case. One run per case after one warm-up of each tool (the compile cache, skopeo's binary in the page cache).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from '../../test/harness/registry.ts';
import { buildImage, buildMultiPlatform } from '../../test/harness/images.ts';
import { pushImage } from '../../test/harness/push.ts';
import { skopeoCopy } from './tools.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = process.execPath;
const MiB = 1 << 20;
const CASES = new Set((process.argv[2] ?? 'b,c,d,e,g').split(','));
const RUNS = Number(process.env.BENCH_RUNS ?? 1);

interface Traced {
  method: string;
  path: string;
  host: string;
  start: number;
  socket?: number;
  newConnection?: boolean;
  headers?: number;
  end?: number;
  closed?: number;
  status?: number;
}

function runTraced(args: string[]): Promise<{ ms: number; trace: { hook: number; exit: number; requests: Traced[] } }> {
  const file = join(tmpdir(), `hoist-trace-${process.pid}-${Math.random().toString(36).slice(2)}.jsonl`);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(NODE, ['--import', `${ROOT}bench/copy/trace.mjs`, `${ROOT}dist/hoist.mjs`, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        HOIST_BENCH_TRACE: file,
        NODE_COMPILE_CACHE: `${process.env.HOME ?? '/tmp'}/.cache/hoist/node-compile-cache`,
      },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`hoist exited ${code}: ${stderr}`));
      const trace = JSON.parse(readFileSync(file, 'utf8')) as { hook: number; exit: number; requests: Traced[] };
      rmSync(file, { force: true });
      resolve({ ms, trace });
    });
  });
}

function short(path: string): string {
  return path.replace(/sha256:([0-9a-f]{8})[0-9a-f]{56}/g, '$1').replace(/_state=[^&]*/, '_state=…');
}

async function timeline(name: string, src: string, dst: () => string, skopeoCold = true): Promise<void> {
  const insecure = (hosts: string[]) => hosts.flatMap((h) => ['--insecure-registry', h]);
  const hosts = [src.split('/')[0] as string, dst().split('/')[0] as string];
  // warm-up of both
  await runTraced(['copy', '-q', '--json', ...insecure(hosts), src, dst()]);
  await skopeoCopy(src, dst(), { coldCache: skopeoCold });
  for (let i = 0; i < RUNS; i++) {
    const s = await skopeoCopy(src, dst(), { coldCache: skopeoCold });
    const h = await runTraced(['copy', '-q', '--json', ...insecure(hosts), src, dst()]);
    const t = h.trace;
    const first = t.requests[0]?.start ?? t.exit;
    const lastEnd = Math.max(...t.requests.map((q) => q.end ?? q.closed ?? q.headers ?? q.start));
    process.stdout.write(
      `\n${name}: hoist ${h.ms.toFixed(0)} ms (process), skopeo ${s.ms.toFixed(0)} ms; load ${loadavg()[0]?.toFixed(2)}\n` +
        `  node start-up → hook ${t.hook.toFixed(1)} ms, hoist start-up → first request ${first.toFixed(1)} ms, ` +
        `last response end ${lastEnd.toFixed(1)} ms, exit ${t.exit.toFixed(1)} ms (wall beyond exit: ${(h.ms - t.exit).toFixed(0)} ms)\n`,
    );
    if (t.requests.length <= 80 || process.env.BENCH_ALL_REQUESTS)
      for (const q of t.requests)
        process.stdout.write(
          `  ${q.start.toFixed(1).padStart(7)} ${(q.headers ?? NaN).toFixed(1).padStart(7)} ${(q.end ?? q.closed ?? NaN).toFixed(1).padStart(7)} ${q.newConnection ? 'new' : '   '} ${String(q.status ?? '-')} ${q.method} ${q.host} ${short(q.path)}\n`,
        );
    else process.stdout.write(`  ${t.requests.length} requests\n`);
  }
}

const running: TestRegistry[] = [];
try {
  const [A, B] = await Promise.all([startRegistry(), startRegistry()]);
  running.push(A, B);
  let n = 0;
  const fresh = (p: string) => () => `bench/${p}-${++n}:1`;
  if (CASES.has('b') || CASES.has('c')) {
    await pushImage(A.url, 'bench/a', buildImage({ layers: Array.from({ length: 8 }, () => 16 * MiB) }), { tag: '1' });
  }
  if (CASES.has('b')) {
    await timeline('(b) same registry, skopeo warm', `${A.host}/bench/a:1`, () => `${A.host}/${fresh('b')()}`, false);
  }
  if (CASES.has('c')) {
    await timeline('(c) present, default', `${A.host}/bench/a:1`, () => `${B.host}/bench/c:1`);
  }
  if (CASES.has('d')) {
    await pushImage(A.url, 'bench/d', buildMultiPlatform(4, [4 * MiB, 4 * MiB]), { tag: '1' });
    await timeline('(d) 4 platforms', `${A.host}/bench/d:1`, () => `${B.host}/${fresh('d')()}`);
  }
  if (CASES.has('e')) {
    await pushImage(A.url, 'bench/e', buildImage({ layers: Array.from({ length: 100 }, () => 16 * 1024) }), {
      tag: '1',
    });
    await timeline('(e) 100 small layers', `${A.host}/bench/e:1`, () => `${B.host}/${fresh('e')()}`);
  }
  if (CASES.has('g')) {
    await pushImage(A.url, 'held/out', buildImage({ layers: Array.from({ length: 6 }, () => 20 * MiB) }), {
      tag: '1',
    });
    await timeline('(g) 6 × 20 MiB', `${A.host}/held/out:1`, () => `${B.host}/${fresh('g')()}`);
  }
} finally {
  await Promise.all(running.map((r) => r.stop()));
}
