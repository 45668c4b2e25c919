/**
 * What the event stream says, and the copy-progress arithmetic, kept pure. Durable events are written by the
 * database with each promotion change (migration 0018): every one names its project (a caller sees only their
 * projects' events), the request, and what changed, so a console can refresh exactly the views that show it. Copy
 * progress is not durable: a rate-limited measurement, worthless once the copy ended, so it carries no id and is
 * never replayed.
 */
import type { CopyEvent } from '../copy/events.ts';
import { summarisePlan } from '../copy/plan.ts';
import type { TargetState } from '../store/schema.ts';

/**
 * `promotion.requested`: a request and its targets' first states; `promotion.approved` / `promotion.rejected`: a
 * person's decision on some environments; `promotion.state`: targets changed state, whoever changed them (a decision,
 * a cancellation, a policy change, the runner: QUEUED, PROMOTING, PROMOTED, FAILED, STALE, CANCELED, …).
 */
export const LIVE_EVENT_TYPES = [
  'promotion.requested',
  'promotion.approved',
  'promotion.rejected',
  'promotion.state',
] as const;
export type LiveEventType = (typeof LIVE_EVENT_TYPES)[number];

export interface LiveEventData {
  project: string;
  application: string;
  requestId: string;
  digest: string;
  /** The source environment. */
  from: string;
  /** requested, state: the new state by target environment. */
  states?: Record<string, TargetState>;
  /** state: the state before, by environment. */
  before?: Record<string, TargetState>;
  /** state: why, by environment (only where there is a reason). */
  reasons?: Record<string, string>;
  /** approved, rejected: the environments decided on. */
  environments?: string[];
  /** requested: the requester; approved, rejected: who decided. */
  actor?: string;
  comment?: string;
  /** When it was written (ISO 8601). */
  at: string;
}

/** A durable event as stored: `id` orders them, across replicas. */
export interface LiveEvent {
  id: number;
  type: LiveEventType;
  projectId: string;
  data: LiveEventData;
}

/** Copy progress of one target: bytes streamed so far of the bytes the plan streams (mounted or present: 0). */
export interface CopyProgressData {
  project: string;
  application: string;
  requestId: string;
  targetId: string;
  environment: string;
  bytes: number;
  total: number;
  done: boolean;
}

export interface ProgressEvent {
  type: 'copy.progress';
  projectId: string;
  data: CopyProgressData;
}

/**
 * Changes that are not promotions but show on the same screens, sent like copy progress (over the notifier to every
 * replica, never stored): `binding.changed` (an environment now tracks the latest build, is pinned, or neither) to
 * the project's members, `quarantine.changed` (a digest quarantined or lifted) to everyone, without saying which
 * digest (the quarantine list itself answers each caller with what they may see). A client that missed one while
 * disconnected reloads on reconnecting, as for any event it missed.
 */
export type NoticeEvent =
  | {
      type: 'binding.changed';
      projectId: string;
      data: { project: string; application: string; environment: string };
    }
  | { type: 'quarantine.changed'; projectId: null; data: Record<string, never> };

/** Sums a copy's events into bytes streamed of the bytes to stream. */
export class CopyMeter {
  bytes = 0;
  total = 0;

  /** Answers whether the figures changed. */
  add(event: CopyEvent): boolean {
    if (event.kind === 'planned') this.total = summarisePlan(event.plan).streamBytes;
    // A retried blob reports its bytes again, after taking back what it had sent (a negative count).
    else if (event.kind === 'blob-bytes') this.bytes = Math.max(0, this.bytes + event.bytes);
    else return false;
    return true;
  }
}

/**
 * At most one progress report per `intervalMs` for a target, but always the first and the last: a fast copy still
 * shows that it started and that it ended.
 */
export function progressDue(lastSentAt: number | undefined, now: number, intervalMs: number, done: boolean): boolean {
  return done || lastSentAt === undefined || now - lastSentAt >= intervalMs;
}

/** Whether an event may be shown to a caller who sees `projectIds` (undefined: an admin, who sees all). */
export function visibleTo(projectId: string, projectIds: ReadonlySet<string> | undefined): boolean {
  return projectIds === undefined || projectIds.has(projectId);
}
