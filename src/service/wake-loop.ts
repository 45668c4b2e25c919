/**
 * A loop that runs one round of periodic work, then sleeps until the round's answer (milliseconds), a wake-up in
 * this process, or a notification on its channel from any replica. The soak ticker and the registry poller run on it.
 */
import type { Notifier } from '../store/notifier.ts';

export class WakeLoop {
  private loop: Promise<void> | undefined;
  private stopping = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    private readonly channel: string,
    /** One round; answers how long to sleep before the next. Must not throw. */
    private readonly round: () => Promise<number>,
    private readonly notifier?: Notifier,
  ) {}

  /** Wakes this loop and every replica's loop on the same channel. */
  notify(): void {
    this.wake();
    void this.notifier?.publish(this.channel, '').catch(() => undefined);
  }

  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.unsubscribe = await this.notifier?.subscribe(this.channel, () => this.wake());
    this.loop = this.run();
  }

  /** Stops after the round under way. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    this.loop = undefined;
    await this.unsubscribe?.().catch(() => undefined);
    this.unsubscribe = undefined;
  }

  /** Wakes this loop only. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.woken = false;
      const wait = await this.round();
      if (this.woken || this.stopping) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        timer.unref();
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }
}
