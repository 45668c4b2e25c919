/**
 * The load of `npm run bench:load`, run in a worker thread so that it does not share the server's event loop: a
 * burst of promotion requests sent at once, and meanwhile a fixed number of simple GETs over a bounded number of
 * keep-alive connections (each connection sends its next request when the last is answered, as autocannon does).
 * Answers the latency of every GET (from its write to the end of its answer) and the status counts.
 */
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

export interface LoadPlan {
  url: string;
  token: string;
  /** The simple route, e.g. /api/v1/projects. */
  path: string;
  gets: number;
  connections: number;
  /** Promotion requests to send at once when the GETs start: path and JSON body of each. */
  promotions: Array<{ path: string; body: string }>;
}

export interface LoadResult {
  /** Every GET: its status and milliseconds. */
  samples: Array<{ status: number; ms: number }>;
  statuses: Record<string, number>;
  promotionStatuses: Record<string, number>;
  seconds: number;
  /** CPU milliseconds of the generator's own thread during the load. */
  threadCpuMs: number;
}

function send(
  agent: Agent,
  plan: LoadPlan,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(
      `${plan.url}${path}`,
      {
        agent,
        method,
        headers: {
          authorization: `Bearer ${plan.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
        res.on('error', () => resolve({ status: -1, ms: performance.now() - t0 }));
      },
    );
    req.on('error', () => resolve({ status: -1, ms: performance.now() - t0 }));
    req.end(body);
  });
}

const count = (into: Record<string, number>, status: number): void => {
  into[String(status)] = (into[String(status)] ?? 0) + 1;
};

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.connections + plan.promotions.length });
  const statuses: Record<string, number> = {};
  const promotionStatuses: Record<string, number> = {};
  const samples: LoadResult['samples'] = [];
  const started = performance.now();
  const cpu = process.threadCpuUsage();
  const promotions = Promise.all(
    plan.promotions.map(async (p) =>
      count(promotionStatuses, (await send(agent, plan, 'POST', p.path, p.body)).status),
    ),
  );
  let left = plan.gets;
  const connection = async (): Promise<void> => {
    while (left > 0) {
      left--;
      const r = await send(agent, plan, 'GET', plan.path);
      samples.push(r);
      count(statuses, r.status);
    }
  };
  await Promise.all(Array.from({ length: plan.connections }, connection));
  await promotions;
  agent.destroy();
  const used = process.threadCpuUsage(cpu);
  return {
    samples,
    statuses,
    promotionStatuses,
    seconds: (performance.now() - started) / 1000,
    threadCpuMs: (used.user + used.system) / 1000,
  };
}

if (parentPort && workerData) parentPort.postMessage(await runLoad(workerData as LoadPlan));
