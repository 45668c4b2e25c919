/**
 * Prometheus metrics: HTTP requests by route and status, their durations, the database pool, the job queues (depth,
 * age of the oldest due job, attempts by outcome, jobs failed for good) and the process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../store/database.ts';
import type { LeasedQueue } from '../service/leased-queue.ts';

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  durations: Histogram<'method' | 'route'>;
}

export function createMetrics(database: Database, queues: readonly LeasedQueue[] = []): Metrics {
  const registry = new Registry();
  // The event-loop lag histogram samples on a timer: prom-client's default (10 ms) woke an idle server 100 times a
  // second, most of its idle CPU (npm run bench:idle); once a second still shows a stalled loop.
  collectDefaultMetrics({ register: registry, prefix: 'hoist_', eventLoopMonitoringPrecision: 1000 });
  const requests = new Counter({
    name: 'hoist_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'hoist_http_request_duration_seconds',
    help: 'HTTP request durations by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'hoist_db_pool_connections',
    help: 'Database connections by state (embedded: one, always in use)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const pool = database.pool();
      this.set({ state: 'total' }, pool.total);
      this.set({ state: 'idle' }, pool.idle);
      this.set({ state: 'waiting' }, pool.waiting);
    },
  });
  queueMetrics(registry, queues);
  return { registry, requests, durations };
}

/** Per queue, read when scraped: depth and oldest due job from the database (every replica sees the same), attempts here. */
function queueMetrics(registry: Registry, queues: readonly LeasedQueue[]): void {
  if (queues.length === 0) return;
  // Read in one query per queue by the first gauge; the second reports what it read (registration order is scrape order).
  const ages = new Map<string, number>();
  new Gauge({
    name: 'hoist_queue_jobs',
    help: 'Jobs in each queue by state (waiting: queued, due or not; working: claimed)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      for (const q of queues) {
        const s = await q.stats();
        this.set({ queue: q.o.name, state: 'waiting' }, s.waiting);
        this.set({ queue: q.o.name, state: 'working' }, s.working);
        ages.set(q.o.name, s.oldestDueSeconds);
      }
    },
  });
  new Gauge({
    name: 'hoist_queue_oldest_job_age_seconds',
    help: 'Seconds the oldest due job of each queue has waited (0: none due)',
    labelNames: ['queue'] as const,
    registers: [registry],
    collect() {
      for (const [queue, age] of ages) this.set({ queue }, age);
    },
  });
  new Counter({
    name: 'hoist_queue_attempts_total',
    help: 'Job attempts made by this process, by queue and how they ended',
    labelNames: ['queue', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const q of queues)
        for (const [outcome, n] of Object.entries(q.outcomes)) this.inc({ queue: q.o.name, outcome }, n);
    },
  });
  new Counter({
    name: 'hoist_queue_failures_total',
    help: 'Jobs that failed for good in this process (a permanent error, or their attempts used up), by queue',
    labelNames: ['queue'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const q of queues) this.inc({ queue: q.o.name }, q.outcomes.failed);
    },
  });
}
