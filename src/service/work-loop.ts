/**
 * A pool of workers that repeat one step (claim a job and carry it out) until stopped: a worker that finds nothing
 * sleeps until the next poll, or until notify() says new work was committed.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class WorkLoop {
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly waiters: Array<() => void> = [];

  constructor(
    /** Does one unit of work; answers whether there was one. */
    private readonly step: () => Promise<boolean>,
    private readonly o: { concurrency: number; pollMs: number },
  ) {}

  start(): void {
    if (this.running) return;
    this.stopping = false;
    const worker = async (): Promise<void> => {
      while (!this.stopping) {
        const did = await this.step().catch(() => false);
        if (!did && !this.stopping)
          await Promise.race([sleep(this.o.pollMs), new Promise<void>((r) => this.waiters.push(r))]);
      }
    };
    this.running = Promise.all(Array.from({ length: this.o.concurrency }, worker)).then(() => undefined);
  }

  notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    await this.running;
    this.running = undefined;
  }
}
