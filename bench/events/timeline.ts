/**
 * For `npm run bench:events -- --timeline`: a per-stage timeline of the event path, recorded by wrapping the bench
 * server's service objects in place (nothing in src/ knows of it). Every mark is a time and a digest: the hook
 * received, the intake's claim and its echo check, the registry's confirmation, the artifact recorded, the
 * automation's rules and the request recorded, the runner's claim, every registry request (method, what, how long),
 * the tag PUT, the attestation and PROMOTED. `report()` answers, per stage, the median and the 90th percentile of the
 * time from the previous stage over the digests seen, and what the registry requests cost.
 */
import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { RepositoryClient } from '../../src/oci/registry-client.ts';
import { Transport } from '../../src/oci/transport.ts';
import type { Services } from '../../src/api/context.ts';

export type Stage =
  | 'pushed'
  | 'hook'
  | 'intake.claimed'
  | 'echo.checked'
  | 'confirmed'
  | 'recorded'
  | 'request.start'
  | 'request.recorded'
  | 'runner.claimed'
  | 'runner.checked'
  | 'copied'
  | 'tag.put'
  | 'attested'
  | 'promoted';

const ORDER: Stage[] = [
  'pushed',
  'hook',
  'intake.claimed',
  'echo.checked',
  'confirmed',
  'recorded',
  'request.start',
  'request.recorded',
  'runner.claimed',
  'runner.checked',
  'copied',
  'tag.put',
  'attested',
  'promoted',
];

interface HttpMark {
  method: string;
  what: string;
  ms: number;
}

type Anything = Record<string, unknown>;
type Fn = (...args: unknown[]) => unknown;

const DIGEST = /sha256:[0-9a-f]{64}/;

export class Timeline {
  /** digest → stage → first time seen. */
  readonly marks = new Map<string, Partial<Record<Stage, number>>>();
  readonly http: HttpMark[] = [];
  /** Intake and runner claims: when, and how many at once (a batch is the claims within 1 ms). */
  readonly claims: Array<{ queue: string; at: number }> = [];
  private readonly eventDigest = new Map<string, string>();
  private recording = true;
  /** When the phase began (clear()), and every hook's events as they arrived: when, which repository, tagged or not. */
  private since = performance.now();
  /** The server thread's event-loop delay over the phase. */
  private loopDelay = monitorEventLoopDelay({ resolution: 5 });
  readonly arrivals: Array<{ at: number; what: string }> = [];

  mark(digest: string | undefined, stage: Stage, at = performance.now()): void {
    if (!this.recording || digest === undefined) return;
    const m = this.marks.get(digest) ?? {};
    m[stage] ??= at;
    this.marks.set(digest, m);
  }

  clear(): void {
    this.marks.clear();
    this.since = performance.now();
    this.loopDelay.disable();
    this.loopDelay = monitorEventLoopDelay({ resolution: 5 });
    this.loopDelay.enable();
    this.arrivals.length = 0;
    this.http.length = 0;
    this.claims.length = 0;
    this.hooks.length = 0;
    this.echoes.clear();
    this.received.empty = this.received.manifests = 0;
  }

  /** Hook requests: how long each took to answer, and how many events it carried that were recorded. */
  readonly hooks: Array<{ ms: number; events: number; at?: number }> = [];
  readonly echoes = new Map<string, number>();
  /** Hook bodies with no manifest push in them (blobs, mounts) and with some. */
  readonly received = { empty: 0, manifests: 0 };

  /** Times every hook request the server answers. */
  watchHooks(server: Server): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.startsWith('/api/v1/hooks/')) return;
      const t0 = performance.now();
      res.on('finish', () => {
        if (this.recording)
          this.hooks.push({ ms: performance.now() - t0, events: res.statusCode, at: t0 - this.since });
      });
    });
  }

  /** Wraps the services' methods (and the registry transport) to mark each stage. */
  install(services: Services): void {
    const wrap = (
      object: object,
      name: string,
      before?: (args: unknown[]) => void,
      after?: (args: unknown[]) => void,
    ) => {
      const o = object as Anything;
      const original = o[name] as Fn;
      o[name] = function (this: unknown, ...args: unknown[]) {
        before?.(args);
        const r = original.apply(this, args);
        if (after && r instanceof Promise) return r.then((v: unknown) => (after(args), v));
        return r;
      };
    };
    const intake = services.intake as unknown as Anything;
    wrap(intake, 'receive', (args) => {
      const [registryId, source, events] = args as [string, string, Array<{ id: string; digest: string }>];
      if (this.recording) this.received[events.length === 0 ? 'empty' : 'manifests']++;
      for (const e of events as Array<{ id: string; digest: string; repository: string; tag?: string }>) {
        if (this.recording)
          this.arrivals.push({
            at: performance.now() - this.since,
            what: `${e.repository}${e.tag === undefined ? '@' : e.tag.startsWith('sha256-') ? ':sha256-' : ':'}`,
          });
        this.mark(e.digest, 'hook');
        this.eventDigest.set(`${source}:${registryId}:${e.id}`, e.digest);
      }
    });
    wrap(intake, 'process', (args) => {
      const job = args[0] as { id: string };
      this.mark(this.eventDigest.get(job.id), 'intake.claimed');
    });
    wrap(intake, 'echo', undefined, (args) => this.mark(args[3] as string, 'echo.checked'));
    wrap(intake, 'confirm', undefined, (args) => this.mark(args[3] as string, 'confirmed'));
    wrap(services.artifacts as unknown as Anything, 'recordPush', undefined, (args) =>
      this.mark(args[3] as string, 'recorded'),
    );
    wrap(services.promotions as unknown as Anything, 'requestFor', undefined, (args) =>
      this.mark((args[2] as { digest?: string }).digest, 'request.recorded'),
    );
    wrap(services.promotions as unknown as Anything, 'request', undefined, (args) =>
      this.mark((args[3] as { digest?: string }).digest, 'request.recorded'),
    );
    wrap(services.promotions as unknown as Anything, 'requestFor', (args) =>
      this.mark((args[2] as { digest?: string }).digest, 'request.start'),
    );
    const runner = services.runner as unknown as Anything;
    wrap(
      runner,
      'heldBack',
      (args) => {
        const t = args[1] as { id: string; digest: string };
        this.mark(t.digest, 'runner.claimed');
      },
      (args) => this.mark((args[1] as { digest: string }).digest, 'runner.checked'),
    );
    const own = (runner.ownPushes ?? undefined) as Anything | undefined;
    if (own) {
      const knownEcho = own.knownEcho as Fn;
      own.knownEcho = (p: { tag?: string; repository: string }) => {
        const r = knownEcho.call(own, p) as boolean;
        const k = `${p.repository}${p.tag === undefined ? '@' : ':'} ${r}`;
        this.echoes.set(k, (this.echoes.get(k) ?? 0) + 1);
        return r;
      };
    }
    // The runner says the tag's write at the start of the copy and again right before the tag's PUT: the last time.
    if (own)
      wrap(own, 'remember', (args) => {
        const p = args[0] as { digest: string; tag?: string };
        const m = this.marks.get(p.digest);
        if (p.tag !== undefined && this.recording && m) m.copied = performance.now();
      });
    const attestor = runner.attestor as Anything | undefined;
    if (attestor)
      wrap(attestor, 'attach', undefined, (args) => this.mark((args[1] as { digest: string }).digest, 'attested'));
    // The tag PUT: a manifest PUT by tag, its digest computed from the bytes.
    wrap(RepositoryClient.prototype, 'putManifest', undefined, (args) => {
      const [ref, bytes] = args as [string, Buffer];
      if (!ref.includes(':')) this.mark(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, 'tag.put');
    });
    for (const [queue, q] of [
      ['intake', services.intake.queue],
      ['runner', services.runner.queue],
    ] as const)
      wrap(q, 'launch', () => this.claims.push({ queue, at: performance.now() }));
    const send = Transport.prototype.send;
    const record = (h: HttpMark) => {
      if (this.recording) this.http.push(h);
    };
    Transport.prototype.send = async function (this: Transport, o) {
      const t0 = performance.now();
      try {
        return await send.call(this, o);
      } finally {
        const what = o.operation.replace(DIGEST, '@d').replace(/:[\w.-]+$/, ':tag');
        record({ method: o.method, what, ms: performance.now() - t0 });
      }
    };
  }

  /** Per stage: median and p90 of the time since the previous stage seen for the digest, in ms. */
  report(origin: Stage = 'pushed'): string {
    const lines: string[] = [];
    const gaps = new Map<string, number[]>();
    for (const m of this.marks.values()) {
      if (m[origin] === undefined || m.promoted === undefined) continue;
      let prev: { stage: Stage; at: number } = { stage: origin, at: m[origin] };
      for (const stage of ORDER.slice(ORDER.indexOf(origin) + 1)) {
        const at = m[stage];
        if (at === undefined) continue;
        const key = `${prev.stage} → ${stage}`;
        gaps.set(key, [...(gaps.get(key) ?? []), at - prev.at]);
        prev = { stage, at };
      }
      gaps.set('TOTAL', [...(gaps.get('TOTAL') ?? []), m.promoted - m[origin]]);
    }
    const pct = (xs: number[], p: number) =>
      [...xs].sort((a, b) => a - b)[Math.floor((p / 100) * (xs.length - 1))] ?? 0;
    for (const [key, xs] of gaps)
      lines.push(
        `  ${key.padEnd(40)} n=${String(xs.length).padStart(3)} p50 ${pct(xs, 50).toFixed(1).padStart(7)} ms  p90 ${pct(xs, 90).toFixed(1).padStart(7)} ms`,
      );
    const byOp = new Map<string, number[]>();
    for (const h of this.http) byOp.set(`${h.method} ${h.what}`, [...(byOp.get(`${h.method} ${h.what}`) ?? []), h.ms]);
    lines.push('  registry requests:');
    for (const [op, xs] of [...byOp].sort((a, b) => b[1].length - a[1].length).slice(0, 14))
      lines.push(
        `    ${op.slice(0, 60).padEnd(60)} n=${String(xs.length).padStart(4)} p50 ${pct(xs, 50).toFixed(1)} ms`,
      );
    const batches = (queue: string) => {
      const at = this.claims.filter((c) => c.queue === queue).map((c) => c.at);
      const sizes: number[] = [];
      for (let i = 0; i < at.length;) {
        let j = i + 1;
        while (j < at.length && (at[j] as number) - (at[j - 1] as number) < 1) j++;
        sizes.push(j - i);
        i = j;
      }
      return `${at.length} claims in ${sizes.length} batches (largest ${Math.max(0, ...sizes)})`;
    };
    const hookMs = this.hooks.map((h) => h.ms);
    lines.push(
      `  hook requests: ${hookMs.length}, answered in p50 ${pct(hookMs, 50).toFixed(1)} ms, p90 ${pct(hookMs, 90).toFixed(1)} ms, max ${Math.max(0, ...hookMs).toFixed(1)} ms; not 200: ${this.hooks.filter((h) => h.events !== 200).length}; bodies without a manifest push ${this.received.empty}, with ${this.received.manifests}`,
    );
    lines.push(`  recognised at the hook: ${JSON.stringify(Object.fromEntries(this.echoes))}`);
    lines.push(`  intake: ${batches('intake')}; runner: ${batches('runner')}`);
    const arrived = new Map<string, number[]>();
    for (const a of this.arrivals) arrived.set(a.what, [...(arrived.get(a.what) ?? []), a.at]);
    const s = (ms: number) => (ms / 1000).toFixed(2);
    lines.push(
      `  events arrived (s since the phase began): ${[...arrived]
        .map(([what, at]) => `${what} ${at.length} from ${s(Math.min(...at))} to ${s(Math.max(...at))}`)
        .join('; ')}`,
    );
    const promoted = [...this.marks.values()].map((m) => m.promoted).filter((x) => x !== undefined);
    if (promoted.length > 0) lines.push(`  last PROMOTED at ${s(Math.max(...promoted) - this.since)} s`);
    const d = this.loopDelay;
    lines.push(
      `  server thread's event-loop delay: p50 ${(d.percentile(50) / 1e6).toFixed(1)} ms, p90 ${(d.percentile(90) / 1e6).toFixed(1)} ms, p99 ${(d.percentile(99) / 1e6).toFixed(1)} ms, max ${(d.max / 1e6).toFixed(1)} ms`,
    );
    return lines.join('\n');
  }
}
