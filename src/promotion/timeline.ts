/**
 * A target's timeline: what happened to it, when and by whom, oldest first — requested, each approval or rejection
 * with its comment, a policy change that re-judged it, the copy (when it started, when it ended, the bytes it
 * streamed), a failure with the registry's own message, a retry, a cancel, the GitOps write-back. Made from the
 * request's audit entries (the hash-chained record, so the page shows the evidence, not a second story) and the
 * target's decisions; pure, like the planners. Where the target stands now is its state, not a step.
 */
import type { TargetState } from './context.ts';

export type TimelineStepKind =
  | 'requested'
  | 'approved'
  | 'rejected'
  | 'reevaluated'
  | 'canceled'
  | 'promoting'
  | 'promoted'
  | 'failed'
  | 'refused'
  | 'retried'
  | 'gitops'
  | 'gitops-failed';

export interface TimelineStep {
  at: string;
  step: TimelineStepKind;
  /** A user, or `hoist` for the server's own work (the copy, a refusal at run time, the GitOps write-back). */
  by: string;
  /** The target's state from this step on, where the step set one. */
  state: TargetState | null;
  /** What the step says in words: a comment, the registry's error, a reason, a policy change; may be empty. */
  detail: string;
  /** Bytes the copy streamed (blobs mounted or already present cost none); on `promoted` only. */
  bytesCopied?: number;
}

/** An audit entry of the request (src/store/promotion-views.query.ts). */
export interface RequestAuditEntry {
  at: Date;
  actor: string;
  action: string;
  summary: unknown;
}

/** A decision on the target, as its view carries it (`at`: ISO 8601). */
export interface TimelineDecision {
  username: string;
  decision: 'approve' | 'reject';
  comment: string;
  at: string;
}

type Summary = Record<string, unknown>;
const record = (v: unknown): Summary =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Summary) : {};
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const STATES: readonly TargetState[] = [
  'AWAITING_APPROVAL',
  'QUEUED',
  'PROMOTING',
  'PROMOTED',
  'REJECTED',
  'CANCELED',
  'STALE',
  'FAILED',
];
const state = (v: unknown): TargetState | null => (STATES.includes(v as TargetState) ? (v as TargetState) : null);

/** The steps one audit entry makes for `environment` (none when the entry concerns other targets only). */
function stepsOf(e: RequestAuditEntry, environment: string): TimelineStep[] {
  const s = record(typeof e.summary === 'string' ? JSON.parse(e.summary) : e.summary);
  const at = e.at.toISOString();
  const step = (kind: TimelineStepKind, st: TargetState | null, detail = ''): TimelineStep => ({
    at,
    step: kind,
    by: e.actor,
    state: st,
    detail,
  });
  const mine = s.environment === environment;
  switch (e.action) {
    case 'promotion.request': {
      const st = state(record(s.states)[environment]);
      if (st === null) return [];
      const why = s.automation
        ? `by automation (${text(s.automation)})`
        : s.windowOverride
          ? 'outside the promotion windows (admin override)'
          : '';
      return [step('requested', st, why)];
    }
    case 'promotion.reevaluate': {
      const change = record(record(s.states)[environment]);
      const after = state(change.after);
      if (after === null) return [];
      return [step('reevaluated', after, `policy ${text(s.policy)} changed: ${text(change.before)} → ${after}`)];
    }
    case 'promotion.cancel':
      return Array.isArray(s.canceled) && s.canceled.includes(environment) ? [step('canceled', 'CANCELED')] : [];
    case 'promotion.retry': {
      const st = state(record(s.states)[environment]);
      if (st === null) return [];
      const before = text(record(s.failed)[environment]);
      return [step('retried', st, before ? `it had failed: ${before}` : '')];
    }
    case 'promotion.promoted': {
      if (!mine) return [];
      const seconds = typeof s.seconds === 'number' ? s.seconds : 0;
      const started = typeof s.startedAt === 'string' ? s.startedAt : new Date(e.at.getTime() - seconds * 1000);
      const bytes = typeof s.bytesStreamed === 'number' ? s.bytesStreamed : 0;
      const mounted =
        typeof s.blobsMounted === 'number' && s.blobsMounted > 0 ? `, ${s.blobsMounted} blobs mounted` : '';
      return [
        { ...step('promoting', 'PROMOTING'), at: new Date(started).toISOString() },
        {
          ...step('promoted', 'PROMOTED', `${s.tag ? `tag ${text(s.tag)} written` : 'no tag written'}${mounted}`),
          bytesCopied: bytes,
        },
      ];
    }
    case 'promotion.failed':
      return mine ? [step('failed', 'FAILED', text(s.error))] : [];
    case 'promotion.refused':
      return mine ? [step('refused', 'REJECTED', text(s.reason))] : [];
    case 'promotion.gitops':
      return mine
        ? [step('gitops', null, `${s.committed === false ? 'unchanged' : 'committed'} ${text(s.commit)}`)]
        : [];
    case 'promotion.gitops-failed':
      return mine ? [step('gitops-failed', null, text(s.error))] : [];
    default:
      // approve and reject come from the decisions themselves (one row per person, with the comment).
      return [];
  }
}

/** The target's steps, oldest first (entries and decisions of the same instant keep the record's order). */
export function targetTimeline(
  environment: string,
  entries: readonly RequestAuditEntry[],
  decisions: readonly TimelineDecision[],
): TimelineStep[] {
  const steps = entries.flatMap((e) => stepsOf(e, environment));
  for (const d of decisions)
    steps.push({
      at: d.at,
      step: d.decision === 'approve' ? 'approved' : 'rejected',
      by: d.username,
      state: d.decision === 'reject' ? 'REJECTED' : null,
      detail: d.comment,
    });
  // Stable: steps of one instant stay in the order above (the request before its decisions).
  return steps.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}
