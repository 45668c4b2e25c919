/**
 * The record of the push events the hook recognised as hoist's own writes (./sole-holder.ts): answered at once, so
 * the registry's next notification is not held up (distribution sends them one at a time, each waiting for the last
 * answer), and written as IGNORED rows in batches, a statement per batch instead of a queued job each. They change
 * nothing: losing a batch (the process dies within the few milliseconds before it is written) loses only rows of
 * `hoist events` that say "nothing new"; the promotion that wrote the image records itself.
 */
import type { Kysely, Insertable } from 'kysely';
import type { Logger } from 'pino';
import { insertPushEvents } from '../store/push-events.repository.ts';
import type { Schema } from '../store/schema.ts';

/**
 * How long a recognised echo waits for others to be written with it. distribution sends one notification at a time,
 * so within 25 ms a batch was one row most often (265 inserts for 480 echoes in a burst of 100 pushes, each a
 * statement on the embedded database's one thread); every promotion brings four (two copy writes, two attestation).
 */
const BATCH_MS = 200;
/** A batch is written at once when it is this large. */
const BATCH_ROWS = 200;

export const ECHO_OUTCOME =
  'nothing new: hoist is writing this image here (its own promotion, reported back), and no other environment holds it';

export const REFERRER_ECHO_OUTCOME =
  "nothing new: hoist is attaching its signed attestation here (its own referrer write), and no artifact's referrers are read in this repository";

export class EchoLog {
  private rows: Array<Insertable<Schema['push_events']>> = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly logger?: Logger,
  ) {}

  /** Keeps rows (without state) to be written IGNORED with the others of the batch. */
  add(rows: ReadonlyArray<Insertable<Schema['push_events']>>, at: Date, outcome = ECHO_OUTCOME): void {
    for (const r of rows) this.rows.push({ ...r, state: 'IGNORED', outcome, done_at: at });
    if (this.rows.length >= BATCH_ROWS) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), BATCH_MS);
  }

  /** Writes what is kept (every batch written before this one included). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.rows;
    this.rows = [];
    if (batch.length > 0)
      this.writing = this.writing.then(() =>
        insertPushEvents(this.db, batch).then(
          () => undefined,
          (err: unknown) => this.logger?.warn({ err, rows: batch.length }, 'could not record echoes of own writes'),
        ),
      );
    return this.writing;
  }
}
