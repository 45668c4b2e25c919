/** The API's view of promotion requests and history, built from rows (src/store/promotion-views.query.ts) or a plan. */
import type { Verdict } from '../policy/evaluate.ts';
import type { Blocker } from '../promotion/blocked-by.ts';
import type { PromotionPlan } from '../promotion/plan.ts';
import { targetTimeline, type TimelineStep } from '../promotion/timeline.ts';
import type { DecisionRow, RequestAuditRow, RequestRows, TargetRow } from '../store/promotion-views.query.ts';
import type { GitopsWriteRow } from '../store/gitops.repository.ts';
import type { RequestRelease } from '../store/releases.repository.ts';
import type { TargetState } from '../store/schema.ts';

export interface TargetView {
  environment: string;
  state: TargetState;
  policy: { name: string; version: number } | null;
  approvalsNeeded: number;
  approvals: Array<{ username: string; decision: 'approve' | 'reject'; comment: string; at: string }>;
  reasons: string[];
  verdict: Verdict | null;
  /** Why it waits or was refused, as data (see src/promotion/blocked-by.ts). */
  blockedBy: Blocker[];
  /** Present while it waits to be tried again after a transient failure (a registry down): when, and why. */
  retry?: RetryView;
  /** The GitOps write-back of this promotion, when the environment has a git target. */
  gitops?: GitopsView;
  /** Bytes the copy streamed, once PROMOTED (null before, and for targets that never copied). */
  bytesCopied: number | null;
  /** What happened to it, when and by whom (one request's view only, not lists): ../promotion/timeline.ts. */
  timeline?: TimelineStep[];
}

export interface GitopsView {
  status: 'GITOPS_PENDING' | 'GITOPS_PUSHED' | 'GITOPS_FAILED';
  attempts: number;
  commit: string | null;
  branch: string | null;
  error: string | null;
  nextAttemptAt: string | null;
}

export function gitopsView(w: GitopsWriteRow): GitopsView {
  const status = w.state === 'DONE' ? 'GITOPS_PUSHED' : w.state === 'FAILED' ? 'GITOPS_FAILED' : 'GITOPS_PENDING';
  return {
    status,
    attempts: w.attempts,
    commit: w.commit_sha,
    branch: w.branch,
    error: w.last_error,
    nextAttemptAt: status === 'GITOPS_PENDING' ? w.run_after.toISOString() : null,
  };
}

export interface RetryView {
  /** The next attempt, not before this time. */
  at: string;
  /** Attempts made so far. */
  attempts: number;
  /** When this run of failures began; it is retried for a configured time from then (HOIST_PROMOTION_RETRY_FOR). */
  failingSince: string;
  lastError: string;
}

export interface PromotionView {
  id: string;
  project: string;
  application: string;
  digest: string;
  /** The tag the request named, or the image's tag in the source environment (what policies judged). */
  tag: string | null;
  from: string;
  requestedBy: string;
  comment: string;
  createdAt: string;
  targets: TargetView[];
  /** Set when the request promotes a release: every application's digest (`application`/`digest`: the first's). */
  release?: RequestRelease;
}

export interface HistoryEntry {
  at: string;
  request: string;
  application: string;
  from: string;
  to: string;
  digest: string;
  tag: string | null;
  state: TargetState;
  requestedBy: string;
  comment: string;
  approvals: Array<{ username: string; decision: 'approve' | 'reject'; at: string }>;
  policy: { name: string; version: number; allowed: boolean } | null;
  bytesCopied: number;
  reason: string | null;
  /** Set when the entry is a release's promotion: every application's digest (`application`/`digest`: the first's). */
  release?: RequestRelease;
}

export const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/** What a finished copy's stored result says it streamed; null when the target has no result. */
export function bytesCopiedOf(result: unknown): number | null {
  const r = json<{ bytesStreamed?: number } | null>(result);
  return r === null ? null : (r.bytesStreamed ?? 0);
}

/** Stored blockers; for targets planned before they were stored, what the row says. */
function blockersOf(t: TargetRow, approvals: number): Blocker[] {
  const stored = json<Blocker[] | null>(t.blocked_by);
  const list = stored ?? [];
  if (t.state !== 'AWAITING_APPROVAL') return list;
  const earlier = list.find((b) => b.kind === 'approvals');
  return [
    {
      kind: 'approvals',
      have: approvals,
      need: t.approvals_needed,
      eligible: earlier?.kind === 'approvals' ? earlier.eligible : [],
      because: earlier?.kind === 'approvals' ? earlier.because : 'policy',
    },
  ];
}

export function targetView(
  t: TargetRow,
  decisions: readonly DecisionRow[],
  gitops: readonly GitopsWriteRow[] = [],
): TargetView {
  const mine = decisions.filter((d) => d.target_id === t.id);
  const write = gitops.find((w) => w.target_id === t.id);
  return {
    environment: t.environment,
    state: t.state,
    policy:
      t.policy_name !== null && t.policy_version !== null ? { name: t.policy_name, version: t.policy_version } : null,
    approvalsNeeded: t.approvals_needed,
    approvals: mine.map((d) => ({
      username: d.username,
      decision: d.decision,
      comment: d.comment,
      at: d.at.toISOString(),
    })),
    reasons: t.reason ? t.reason.split('; ') : [],
    verdict: json<Verdict | null>(t.verdict),
    blockedBy: blockersOf(t, mine.filter((d) => d.decision === 'approve').length),
    ...(t.state === 'QUEUED' && t.failing_since !== null && t.run_after !== null
      ? {
          retry: {
            at: t.run_after.toISOString(),
            attempts: t.attempts,
            failingSince: t.failing_since.toISOString(),
            lastError: t.reason ?? '',
          },
        }
      : {}),
    ...(write ? { gitops: gitopsView(write) } : {}),
    bytesCopied: bytesCopiedOf(t.result),
  };
}

/** One request's view with each target's timeline, made from the request's audit entries and its decisions. */
export function withTimelines(view: PromotionView, audit: readonly RequestAuditRow[]): PromotionView {
  return {
    ...view,
    targets: view.targets.map((t) => ({ ...t, timeline: targetTimeline(t.environment, audit, t.approvals) })),
  };
}

/** Views of every request in the rows, in the rows' order. */
export function requestViews(rows: RequestRows): PromotionView[] {
  return rows.requests.map((r) => ({
    id: r.id,
    project: r.project,
    application: r.application,
    digest: r.digest,
    tag: r.tag,
    from: r.from,
    requestedBy: r.requested_by,
    comment: r.comment,
    createdAt: r.created_at.toISOString(),
    targets: rows.targets.filter((t) => t.request_id === r.id).map((t) => targetView(t, rows.decisions, rows.gitops)),
  }));
}

/** The view of a request just written from its plan (no read back). */
export function plannedView(plan: PromotionPlan, id: string, at: Date): PromotionView {
  return {
    id,
    project: plan.project.name,
    application: plan.application.name,
    digest: plan.artifact?.digest ?? '',
    tag: plan.tag,
    from: plan.from?.name ?? '',
    requestedBy: plan.requester,
    comment: plan.comment,
    createdAt: at.toISOString(),
    targets: [...plan.targets]
      .sort((a, b) => a.environment.position - b.environment.position)
      .map((t) => ({
        environment: t.environment.name,
        state: t.state,
        policy: t.policy,
        approvalsNeeded: t.approvalsNeeded,
        approvals: [],
        reasons: t.reasons,
        verdict: t.verdict,
        blockedBy: t.blockedBy,
        bytesCopied: null,
      })),
  };
}
