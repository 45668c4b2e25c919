/**
 * Fans promotion events out to the open event streams of this replica. Durable events are rows the database writes
 * with each promotion change (migration 0018); one reader per process follows the table by id, woken by the commit's
 * notification (every replica hears it, see src/store/notifier.ts) and by a slow poll while any stream is open (a
 * notification is lost while a listener reconnects). Each stream sees
 * only its caller's projects (admins see all). A stream resumed with `Last-Event-ID` first replays what it missed
 * from the table, then continues live; one away longer than the table keeps is told to reload (`reset`). Copy
 * progress, binding and quarantine changes go over the notifier only, never stored.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { CopyListener } from '../copy/events.ts';
import { TooManyRequests } from '../errors.ts';
import {
  CopyMeter,
  progressDue,
  visibleTo,
  type CopyProgressData,
  type LiveEvent,
  type NoticeEvent,
  type ProgressEvent,
} from '../promotion/live-event.ts';
import {
  LIVE_EVENTS_CHANNEL,
  LIVE_PROGRESS_CHANNEL,
  liveEventBounds,
  liveEventsAfter,
  readLiveEvents,
} from '../store/live-events.repository.ts';
import { projectIdsNamed } from '../store/namespaces.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import type { Schema } from '../store/schema.ts';

/** Who watches: admins see every project; others the projects they are members of (by name). */
export interface Viewer {
  userId: string;
  isAdmin: boolean;
  projects: readonly string[];
}

/** Where a stream's events go (the route writes them as server-sent events). */
export interface StreamSink {
  /** Answers false when the client does not keep up (the stream is then closed; it resumes by Last-Event-ID). */
  event(e: { id?: number; type: string; data: unknown }): boolean;
  comment(text: string): boolean;
  end(): void;
}

export interface LiveEventsOptions {
  /** A comment this often keeps proxies from closing an idle stream; the caller's access is re-checked then too. */
  heartbeatMs?: number;
  /** While streams are open, look for new events this often even without a notification (default 2 s). */
  pollMs?: number;
  maxStreamsPerUser?: number;
  maxStreams?: number;
  /** At most one progress event per target this often (default 250 ms: 4 per second). */
  progressIntervalMs?: number;
  /** A resumed stream replays at most this many missed events; beyond, it is told to reload. */
  replayLimit?: number;
  logger?: Logger;
}

/** The target a copy is for, as progress events name it. */
export type ProgressTarget = Omit<CopyProgressData, 'bytes' | 'total' | 'done'> & { projectId: string };

interface Stream {
  viewer: Viewer;
  /** undefined: all projects (an admin). */
  projectIds: Set<string> | undefined;
  sink: StreamSink;
  /** The newest event id this stream has been given. */
  lastId: number;
  /** Live events that arrived while the stream was replaying. */
  pending: LiveEvent[] | undefined;
  heartbeat: NodeJS.Timeout;
}

const PAGE = 500;
/** How soon events held back by a transaction in flight are looked at again. */
const HELD_RETRY_MS = 20;

export class LiveEvents {
  private readonly streams = new Set<Stream>();
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly maxPerUser: number;
  private readonly maxStreams: number;
  private readonly progressIntervalMs: number;
  private readonly replayLimit: number;
  private readonly log: Logger;
  /** The newest event id the reader has handed out. */
  private cursor = 0;
  private listening: Promise<void> | undefined;
  private unsubscribe: Array<() => Promise<void>> = [];
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly notifier: Notifier,
    o: LiveEventsOptions = {},
  ) {
    this.heartbeatMs = o.heartbeatMs ?? 15_000;
    this.pollMs = o.pollMs ?? 2000;
    this.maxPerUser = o.maxStreamsPerUser ?? 5;
    this.maxStreams = o.maxStreams ?? 1000;
    this.progressIntervalMs = o.progressIntervalMs ?? 250;
    this.replayLimit = o.replayLimit ?? 1000;
    this.log = (o.logger ?? pino({ level: 'silent' })).child({ service: 'live-events' });
  }

  /** Streams open now (all, or one user's). */
  count(userId?: string): number {
    let n = 0;
    for (const s of this.streams) if (userId === undefined || s.viewer.userId === userId) n++;
    return n;
  }

  /**
   * Opens a stream: refuses (429) beyond the limits, then asks for the sink (the route starts its response only
   * now, so a refusal is an ordinary error answer), replays what a resumed stream missed, and goes live. `refresh`
   * re-reads the caller at each heartbeat: a revoked token or an ended session ends the stream, changed memberships
   * change what it shows. Answers how to close it (when the client goes away).
   */
  async open(
    viewer: Viewer,
    o: { lastEventId?: number; refresh?: () => Promise<Viewer | undefined> },
    sinkFor: () => StreamSink,
  ): Promise<() => void> {
    if (this.closed) throw new TooManyRequests('the server is shutting down; connect again', 1);
    if (this.count(viewer.userId) >= this.maxPerUser)
      throw new TooManyRequests(
        `you have ${this.maxPerUser} event streams open already (the most one user may have); close one, or poll`,
        5,
      );
    if (this.streams.size >= this.maxStreams)
      throw new TooManyRequests('this server has as many event streams open as it serves; try again later', 5);
    await this.listen();
    const projectIds = await this.projectIdsOf(viewer);
    const stream: Stream = {
      viewer,
      projectIds,
      sink: sinkFor(),
      lastId: o.lastEventId ?? this.cursor,
      pending: o.lastEventId === undefined ? undefined : [],
      heartbeat: setInterval(() => void this.beat(stream, o.refresh), this.heartbeatMs),
    };
    stream.heartbeat.unref();
    this.streams.add(stream);
    this.schedulePoll();
    stream.sink.comment('hoist event stream');
    if (o.lastEventId !== undefined) {
      try {
        await this.replay(stream, o.lastEventId);
      } catch (err) {
        this.log.warn({ err }, 'replaying missed events failed; the stream is closed and will be resumed');
        this.end(stream);
      }
    }
    return () => this.end(stream);
  }

  /**
   * A listener for one target's copy: counts the bytes and publishes progress, at most once per interval, to every
   * replica's streams. `done()` sends the last figures. Publishing never fails the copy.
   */
  meter(target: ProgressTarget): { listener: CopyListener; done(): void } {
    const meter = new CopyMeter();
    let lastSentAt: number | undefined;
    const send = (done: boolean): void => {
      const now = Date.now();
      if (!progressDue(lastSentAt, now, this.progressIntervalMs, done)) return;
      lastSentAt = now;
      const { projectId, ...rest } = target;
      const event: ProgressEvent = {
        type: 'copy.progress',
        projectId,
        data: { ...rest, bytes: meter.bytes, total: meter.total, done },
      };
      this.notifier
        .publish(LIVE_PROGRESS_CHANNEL, JSON.stringify(event))
        .catch((err: unknown) => this.log.warn({ err }, 'publishing copy progress failed'));
    };
    return {
      listener: (e) => {
        if (meter.add(e) && e.kind === 'blob-bytes') send(false);
      },
      done: () => send(true),
    };
  }

  /**
   * Tells the streams that a project's binding changed (`project` set) or that the quarantine list did. Called by
   * the routes after the change committed; publishing never fails the change.
   */
  async announce(
    change:
      | { type: 'binding.changed'; project: string; application: string; environment: string }
      | { type: 'quarantine.changed' },
  ): Promise<void> {
    try {
      let event: NoticeEvent;
      if (change.type === 'quarantine.changed') event = { type: change.type, projectId: null, data: {} };
      else {
        const [projectId] = await projectIdsNamed(this.db, [change.project]);
        if (projectId === undefined) return;
        const { type, ...data } = change;
        event = { type, projectId, data };
      }
      await this.notifier.publish(LIVE_PROGRESS_CHANNEL, JSON.stringify(event));
    } catch (err) {
      this.log.warn({ err }, `announcing ${change.type} failed`);
    }
  }

  /** Ends every stream (server shutdown): clients reconnect, to this replica when it is back or to another. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.heldTimer);
    for (const s of [...this.streams]) {
      s.sink.comment('server shutting down');
      this.end(s);
    }
    const unsubscribe = this.unsubscribe.splice(0);
    await Promise.all(unsubscribe.map((u) => u().catch(() => undefined)));
  }

  private listen(): Promise<void> {
    this.listening ??= (async () => {
      this.unsubscribe.push(await this.notifier.subscribe(LIVE_EVENTS_CHANNEL, () => void this.read()));
      this.unsubscribe.push(
        await this.notifier.subscribe(LIVE_PROGRESS_CHANNEL, (payload) => this.deliverProgress(payload)),
      );
      // Subscribed first: whatever commits from now on wakes the reader; what came before is history.
      this.cursor = Math.max(this.cursor, (await liveEventBounds(this.db)).latest);
    })().catch((err: unknown) => {
      this.listening = undefined;
      throw err;
    });
    return this.listening;
  }

  private async projectIdsOf(viewer: Viewer): Promise<Set<string> | undefined> {
    return viewer.isAdmin ? undefined : new Set(await projectIdsNamed(this.db, viewer.projects));
  }

  /** Follows the table from the cursor, handing each event to the streams that may see it; one read at a time. */
  private read(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        let page: LiveEvent[];
        let held = false;
        do {
          ({ events: page, held } = await readLiveEvents(this.db, { afterId: this.cursor, limit: PAGE }));
          for (const event of page) {
            this.cursor = Math.max(this.cursor, event.id);
            for (const s of this.streams) this.deliver(s, event);
          }
        } while (page.length === PAGE);
        // Committed events wait behind a transaction in flight (ids are not taken in commit order, migration 0026),
        // which may write no event and so send no wake-up: look again shortly.
        if (held) this.readSoon();
      } while (this.readAgain);
    })()
      .catch((err: unknown) => this.log.warn({ err }, 'reading live events failed'))
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  private deliver(s: Stream, event: LiveEvent): void {
    if (event.id <= s.lastId || !visibleTo(event.projectId, s.projectIds)) return;
    if (s.pending) return void s.pending.push(event);
    this.send(s, event);
  }

  private send(s: Stream, event: LiveEvent): void {
    s.lastId = Math.max(s.lastId, event.id);
    if (!s.sink.event({ id: event.id, type: event.type, data: event.data })) this.end(s);
  }

  private async replay(s: Stream, lastEventId: number): Promise<void> {
    const { oldest, latest } = await liveEventBounds(this.db);
    // Rows after the client's last id were pruned (or the id is from another database): it must reload.
    const lost = lastEventId > latest || (oldest > 0 && lastEventId < oldest - 1);
    let after = lastEventId;
    let replayed = 0;
    while (!lost) {
      const page = await liveEventsAfter(this.db, {
        afterId: after,
        ...(s.projectIds ? { projectIds: [...s.projectIds] } : {}),
        limit: PAGE,
      });
      for (const event of page) this.send(s, event);
      replayed += page.length;
      if (page.length < PAGE) break;
      after = page.at(-1)?.id ?? after;
      if (replayed >= this.replayLimit) return this.reset(s, latest);
    }
    if (lost) return this.reset(s, latest);
    const pending = s.pending ?? [];
    s.pending = undefined;
    for (const event of pending) if (event.id > s.lastId) this.send(s, event);
  }

  /** Too much was missed: the client reloads everything and continues from `latest`. */
  private reset(s: Stream, latest: number): void {
    s.lastId = Math.max(s.lastId, latest);
    const pending = s.pending ?? [];
    s.pending = undefined;
    s.sink.event({ id: s.lastId, type: 'reset', data: { reason: 'events were missed; reload' } });
    for (const event of pending) if (event.id > s.lastId) this.send(s, event);
  }

  private deliverProgress(payload: string): void {
    let event: ProgressEvent | NoticeEvent;
    try {
      event = JSON.parse(payload) as ProgressEvent | NoticeEvent;
    } catch {
      return;
    }
    for (const s of this.streams)
      if (
        (event.projectId === null || visibleTo(event.projectId, s.projectIds)) &&
        !s.sink.event({ type: event.type, data: event.data })
      )
        this.end(s);
  }

  private async beat(s: Stream, refresh: (() => Promise<Viewer | undefined>) | undefined): Promise<void> {
    try {
      if (refresh) {
        const viewer = await refresh();
        if (!viewer) return this.end(s);
        s.viewer = viewer;
        s.projectIds = await this.projectIdsOf(viewer);
      }
      if (!s.sink.comment('heartbeat')) this.end(s);
    } catch (err) {
      this.log.warn({ err }, 'event stream heartbeat failed');
    }
  }

  /** A read in a moment, while committed events wait behind a transaction in flight. */
  private readSoon(): void {
    if (this.heldTimer || this.closed) return;
    this.heldTimer = setTimeout(() => {
      this.heldTimer = undefined;
      void this.read();
    }, HELD_RETRY_MS);
    this.heldTimer.unref();
  }

  /** While streams are open, a slow look at the table covers notifications lost during a reconnect. */
  private schedulePoll(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      if (this.streams.size === 0) return;
      void this.read().finally(() => this.schedulePoll());
    }, this.pollMs);
    this.pollTimer.unref();
  }

  private end(s: Stream): void {
    if (!this.streams.delete(s)) return;
    clearInterval(s.heartbeat);
    s.sink.end();
  }
}
