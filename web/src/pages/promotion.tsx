/**
 * One promotion request: per target its state, why it waits or was refused (each condition with the values it saw),
 * approvals with comments, a target waiting to be tried again after a transient failure (when, and why), and the
 * actions the caller may take (approve or reject chosen targets, cancel, retry FAILED targets), plus the equivalent
 * CLI commands. It refreshes while any target is still moving.
 */
import { lazy, Suspense, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.ts';
import { useCopyProgress, usePollInterval, type CopyProgress } from '../live.ts';
import { FINAL, type Promotion, type Target, type TimelineStep } from '../promotion-types.ts';
import type { components } from '../../../src/client/openapi.ts';
import { BlockerLine } from '../ui/blocker.tsx';
import { boardQuery } from '../board-query.ts';
import { CopyButton } from '../ui/copy-text.tsx';
import { Gated } from '../ui/gated.tsx';
import { needsRole } from '../ui/roles.ts';

const PromoteDialog = lazy(() => import('../ui/promote-dialog.tsx').then((m) => ({ default: m.PromoteDialog })));
import { roleIn, useSignedIn, type Me } from '../session.tsx';
import { byteSize, Digest, ErrorNote, State, Time } from '../ui/format.tsx';

type BlockerShape = components['schemas']['Blocker'];

/** Whether the caller's role lets them decide on a target (the server checks again, with separation of duties). */
export function mayDecide(me: Me, project: string, env: string): boolean {
  if (me.isAdmin) return true;
  return me.memberships.some(
    (m) =>
      m.project === project &&
      (m.role === 'promoter' || m.role === 'owner') &&
      (m.environments === null || m.environments.includes(env)),
  );
}

/** Why the caller may not approve this target, or null when they may. */
export function whyNot(me: Me, p: Promotion, t: Target): string | null {
  if (t.state !== 'AWAITING_APPROVAL') return `it is ${t.state.toLowerCase().replace('_', ' ')}`;
  if (!mayDecide(me, p.project, t.environment))
    return p.requestedBy === me.username
      ? 'you requested this'
      : `you need the promoter role for ${t.environment} in ${p.project}`;
  if (t.approvals.some((a) => a.username === me.username)) return 'you already decided';
  // The server names who may still approve, after separation of duties (the requester, the image's builder, unless
  // the policy lets them): a member missing from it is barred by one of the two.
  const eligible = (t.blockedBy ?? []).find((b) => b.kind === 'approvals') as { eligible?: string[] } | undefined;
  if (!me.isAdmin && eligible?.eligible !== undefined && !eligible.eligible.includes(me.username))
    return p.requestedBy === me.username ? 'you requested this' : 'you built this image';
  if (eligible?.eligible === undefined && p.requestedBy === me.username) return 'you requested this';
  return null;
}

/** Why the caller may approve this target (their role there), for the inbox and the request page. */
export function whyMay(me: Me, p: Promotion, t: Target): string {
  if (me.isAdmin) return 'you are an admin';
  const m = me.memberships.find(
    (x) =>
      x.project === p.project &&
      (x.role === 'promoter' || x.role === 'owner') &&
      (x.environments === null || x.environments.includes(t.environment)),
  );
  return m ? `you are ${m.role} for ${t.environment} in ${p.project}` : '';
}

/** Whether the caller's role lets them retry a target: the roles that may request a promotion to it. */
export function mayRetry(me: Me, project: string, env: string): boolean {
  if (me.isAdmin) return true;
  return me.memberships.some(
    (m) =>
      m.project === project &&
      (m.role === 'developer' || m.role === 'promoter' || m.role === 'owner') &&
      (m.environments === null || m.environments.includes(env)),
  );
}

/** Why the caller may not retry this target, or null when they may (the server checks policy and windows again). */
export function whyNoRetry(me: Me, p: Promotion, t: Target): string | null {
  if (t.state !== 'FAILED') return `it is ${t.state.toLowerCase().replace('_', ' ')}`;
  if (!mayRetry(me, p.project, t.environment))
    return `retrying needs the developer, promoter or owner role for ${t.environment} in ${p.project}`;
  return null;
}

/** A target waiting for its next attempt after a transient failure. */
function Retrying({ target }: { target: Target }) {
  const r = target.retry;
  if (r === undefined) return null;
  return (
    <p className="retrying" role="status">
      Attempt {r.attempts} failed: {r.lastError}. Trying again <Time at={r.at} /> (failing since{' '}
      <Time at={r.failingSince} />
      ).
    </p>
  );
}

export function Blockers({ target }: { target: Target }) {
  const blockers = (target.blockedBy ?? []) as BlockerShape[];
  if (blockers.length === 0 && target.reasons.length === 0) return null;
  return (
    <ul className="reasons">
      {blockers.map((b, i) => (
        <li key={i}>
          <BlockerLine blocker={b} />
        </li>
      ))}
      {blockers.length === 0 && target.reasons.map((r, i) => <li key={i}>{r}</li>)}
    </ul>
  );
}

export function Conditions({ target }: { target: Target }) {
  // The verdict lists every condition with its result; a refusal's blocker adds the values each one saw.
  const seen = new Map<string, Record<string, unknown>>();
  for (const b of target.blockedBy as BlockerShape[])
    if (b.kind === 'policy') for (const c of b.conditions) seen.set(`${c.kind} ${c.expression}`, c.values);
  const conditions = (target.verdict?.conditions ?? []).map((c) => ({
    ...c,
    values: seen.get(`${c.kind} ${c.expression}`) ?? {},
  }));
  if (conditions.length === 0) return null;
  return (
    <table className="conditions">
      <caption>Policy {target.policy ? `${target.policy.name}@${target.policy.version}` : ''} conditions</caption>
      <thead>
        <tr>
          <th scope="col">kind</th>
          <th scope="col">expression</th>
          <th scope="col">result</th>
          <th scope="col">values seen</th>
        </tr>
      </thead>
      <tbody>
        {conditions.map((c, i) => (
          <tr key={i}>
            <td>{c.kind}</td>
            <td>
              <code>{c.expression}</code>
            </td>
            <td>{c.result === 'error' ? `error: ${c.error ?? ''}` : String(c.result)}</td>
            <td>
              {Object.keys(c.values).length > 0 ? (
                <code>
                  {Object.entries(c.values)
                    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
                    .join(', ')}
                </code>
              ) : (
                '—'
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const MIB = 1024 * 1024;

const STEP_ICON: Record<TimelineStep['step'], string> = {
  requested: '●',
  approved: '✔',
  rejected: '✖',
  reevaluated: '↻',
  canceled: '⊘',
  promoting: '⇢',
  promoted: '✔',
  failed: '✖',
  refused: '✖',
  retried: '↻',
  gitops: '⎇',
  'gitops-failed': '✖',
};

/** One step in words: what happened and who did it (the time is shown beside it). */
function stepText(s: TimelineStep, steps: readonly TimelineStep[]): string {
  const said = s.detail ? ` — “${s.detail}”` : '';
  const state = s.state ? s.state.toLowerCase().replace('_', ' ') : '';
  switch (s.step) {
    case 'requested':
      return `requested by ${s.by}: ${state}${s.detail ? ` (${s.detail})` : ''}`;
    case 'approved':
      return `approved by ${s.by}${said}`;
    case 'rejected':
      return `rejected by ${s.by}${said}`;
    case 'reevaluated':
      return `re-evaluated after ${s.by} changed a policy: ${s.detail}`;
    case 'canceled':
      return `canceled by ${s.by}`;
    case 'promoting':
      return 'copy started';
    case 'promoted': {
      const started = [...steps].reverse().find((x) => x.step === 'promoting' && x.at <= s.at);
      const took = started ? ` in ${((Date.parse(s.at) - Date.parse(started.at)) / 1000).toFixed(1)} s` : '';
      return `promoted${took}: ${byteSize(s.bytesCopied ?? 0)} copied, ${s.detail}`;
    }
    case 'failed':
      return `failed: ${s.detail}`;
    case 'refused':
      return `refused when its turn came: ${s.detail}`;
    case 'retried':
      return `retried by ${s.by}${s.detail ? ` (${s.detail})` : ''}`;
    case 'gitops':
      return `GitOps write-back: ${s.detail}`;
    case 'gitops-failed':
      return `GitOps write-back failed: ${s.detail}`;
  }
}

/** Where a target that has not finished stands now, after its last step. */
function nowText(t: Target): string | null {
  const have = t.approvals.filter((a) => a.decision === 'approve').length;
  switch (t.state) {
    case 'AWAITING_APPROVAL': {
      const left = Math.max(t.approvalsNeeded - have, 0);
      return `now: waiting for ${left} more approval${left === 1 ? '' : 's'}`;
    }
    case 'QUEUED':
      return t.retry ? 'now: waiting to be tried again' : 'now: queued for the copy';
    case 'PROMOTING':
      return 'now: copying';
    case 'PROMOTED':
    case 'REJECTED':
    case 'CANCELED':
    case 'STALE':
    case 'FAILED':
      return null;
  }
}

/** The target's timeline: requested → approvals → copy → promoted, or where and why it stopped; times on hover. */
function Timeline({ target, progress }: { target: Target; progress: CopyProgress | undefined }) {
  const steps = target.timeline ?? [];
  const now = nowText(target);
  if (steps.length === 0 && now === null) return null;
  return (
    <ol className="timeline" aria-label={`timeline of ${target.environment}`}>
      {steps.map((s, i) => (
        <li key={i} className={`step-${s.step}`}>
          <span aria-hidden="true">{STEP_ICON[s.step]} </span>
          {stepText(s, steps)} · <Time at={s.at} />
        </li>
      ))}
      {now !== null && (
        <li className="step-now">
          <span aria-hidden="true">◷ </span>
          {now}
          {target.state === 'PROMOTING' && <Copying progress={progress} />}
        </li>
      )}
    </ol>
  );
}

/** The copy in progress, as the event stream reports it (bytes hoist streams; mounted and present blobs cost none). */
function Copying({ progress }: { progress: CopyProgress | undefined }) {
  if (progress === undefined) return null;
  const label = `copied ${(progress.bytes / MIB).toFixed(1)} of ${(progress.total / MIB).toFixed(1)} MiB`;
  return (
    <p>
      <progress value={progress.bytes} max={Math.max(progress.total, 1)} aria-label={label} /> {label}
    </p>
  );
}

export default function PromotionPage({ project, id }: { project: string; id: string }) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const path = `/api/v1/projects/${encodeURIComponent(project)}/promotions/${encodeURIComponent(id)}`;
  const poll = usePollInterval(2000);
  const promotion = useQuery({
    queryKey: ['promotion', project, id],
    queryFn: () => api<Promotion>('GET', path),
    refetchInterval: (q) => (q.state.data?.targets.every((t) => FINAL.includes(t.state)) ? false : poll),
  });
  const copied = useCopyProgress(id);
  const [again, setAgain] = useState(false);
  const board = useQuery({ ...boardQuery(project), enabled: again });
  const [decision, setDecision] = useState<'approve' | 'reject' | null>(null);
  const decide = useMutation({
    mutationFn: (v: { decision: 'approve' | 'reject'; comment: string; environments: string[] }) =>
      api<Promotion>('POST', `${path}/${v.decision}`, { comment: v.comment, environments: v.environments }),
    onSuccess: (p) => {
      qc.setQueryData(['promotion', project, id], p);
      void qc.invalidateQueries({ queryKey: ['me'] });
      setDecision(null);
    },
  });
  const cancel = useMutation({
    mutationFn: () => api<Promotion>('POST', `${path}/cancel`),
    onSuccess: (p) => qc.setQueryData(['promotion', project, id], p),
  });
  const retry = useMutation({
    mutationFn: (environments: string[]) => api<Promotion>('POST', `${path}/retry`, { environments }),
    onSuccess: (p) => qc.setQueryData(['promotion', project, id], p),
  });

  if (promotion.isPending) return <p className="loading">Loading…</p>;
  if (promotion.isError) return <ErrorNote error={promotion.error} doing="load the promotion" />;
  const p = promotion.data;
  const decidable = p.targets.filter((t) => whyNot(me, p, t) === null);
  const failed = p.targets.filter((t) => t.state === 'FAILED');
  const retriable = failed.filter((t) => whyNoRetry(me, p, t) === null);
  const noRetry = failed.map((t) => whyNoRetry(me, p, t)).find((why) => why !== null);
  const open = p.targets.some((t) => !FINAL.includes(t.state) && t.state !== 'PROMOTING');
  const role = roleIn(me, project);
  // A target that ended without its copy (stale after a policy change, rejected, canceled) may be asked for again.
  const ended = p.targets.filter((t) => t.state === 'STALE' || t.state === 'REJECTED' || t.state === 'CANCELED');
  const cli = `hoist request ${p.id} --project ${p.project}\nhoist approve ${p.id} --project ${p.project}\nhoist reject ${p.id} --project ${p.project} --comment "why"\nhoist cancel ${p.id} --project ${p.project}\nhoist retry ${p.id} --project ${p.project}`;

  function submit(e: FormEvent<HTMLFormElement>, kind: 'approve' | 'reject') {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    decide.mutate({
      decision: kind,
      comment: String(form.get('comment') ?? ''),
      environments: form.getAll('environment').map(String),
    });
  }

  return (
    <section>
      <h1>
        Promotion of {p.application} from {p.from}
      </h1>
      <p>
        <Digest value={p.digest} full />
        {p.tag ? <> :{p.tag}</> : null} requested by <strong>{p.requestedBy}</strong> <Time at={p.createdAt} />
        {p.comment && <> — “{p.comment}”</>}
      </p>
      {p.targets.map((t) => (
        <article key={t.environment} className="target" aria-labelledby={`target-${t.environment}`}>
          <h2 id={`target-${t.environment}`}>
            → {t.environment} <State state={t.state} />
          </h2>
          <p className="muted">
            {t.policy ? `policy ${t.policy.name}@${t.policy.version}` : 'no policy'} · approvals{' '}
            {t.approvals.filter((a) => a.decision === 'approve').length}/{t.approvalsNeeded}
            {t.bytesCopied !== null && <> · {byteSize(t.bytesCopied)} copied</>}
          </p>
          <Timeline target={t} progress={copied[t.environment]} />
          <Retrying target={t} />
          <Blockers target={t} />
          <Conditions target={t} />
          {t.state === 'AWAITING_APPROVAL' && whyNot(me, p, t) !== null && (
            <p className="muted">You cannot approve this: {whyNot(me, p, t)}.</p>
          )}
          {t.state === 'AWAITING_APPROVAL' && whyNot(me, p, t) === null && (
            <p className="muted">You may approve this: {whyMay(me, p, t)}.</p>
          )}
        </article>
      ))}

      {decide.isError && <ErrorNote error={decide.error} doing="record your decision" />}
      {cancel.isError && <ErrorNote error={cancel.error} doing="cancel" />}
      {retry.isError && <ErrorNote error={retry.error} doing="retry" />}
      <div className="actions">
        <button type="button" disabled={decidable.length === 0} onClick={() => setDecision('approve')}>
          Approve…
        </button>
        <button type="button" disabled={decidable.length === 0} onClick={() => setDecision('reject')}>
          Reject…
        </button>
        <button
          type="button"
          disabled={!open || p.requestedBy !== me.username}
          title={p.requestedBy !== me.username ? 'only the requester can cancel' : undefined}
          onClick={() => cancel.mutate()}
        >
          Cancel request
        </button>
        {failed.length > 0 && (
          <button
            type="button"
            disabled={retriable.length === 0 || retry.isPending}
            title={
              retriable.length === 0
                ? (noRetry ?? undefined)
                : `queue ${retriable.map((t) => t.environment).join(', ')} again`
            }
            onClick={() => retry.mutate(retriable.map((t) => t.environment))}
          >
            Retry {retriable.length > 0 ? retriable.map((t) => t.environment).join(', ') : 'failed targets'}
          </button>
        )}
        {failed.length > 0 && retriable.length === 0 && noRetry && (
          <span className="muted">You cannot retry: {noRetry}.</span>
        )}
        {ended.length > 0 && (
          <Gated
            needs={needsRole(me, project, ['developer', 'promoter', 'owner'], ended[0]?.environment)}
            onClick={() => setAgain(true)}
          >
            Request again…
          </Gated>
        )}
        {role === null && <span className="muted">You only see this project as an admin or member.</span>}
      </div>
      {decision && (
        <form className="decision" onSubmit={(e) => submit(e, decision)} aria-label={`${decision} form`}>
          <fieldset>
            <legend>{decision === 'approve' ? 'Approve for' : 'Reject for'}</legend>
            {decidable.map((t) => (
              <label key={t.environment} className="inline">
                <input type="checkbox" name="environment" value={t.environment} defaultChecked /> {t.environment}
              </label>
            ))}
          </fieldset>
          <label>
            Comment{decision === 'reject' ? ' (required)' : ''}
            <textarea name="comment" required={decision === 'reject'} rows={2} />
          </label>
          <button type="submit" disabled={decide.isPending}>
            {decision === 'approve' ? 'Approve' : 'Reject'}
          </button>{' '}
          <button type="button" className="secondary" onClick={() => setDecision(null)}>
            Close
          </button>
        </form>
      )}
      <details>
        <summary>The same from the CLI</summary>
        <pre>
          <code>{cli}</code>
        </pre>
        <CopyButton value={cli} label="the CLI commands" />
      </details>
      {again && board.data && (
        <Suspense fallback={null}>
          <PromoteDialog
            project={project}
            app={p.application}
            digest={p.digest}
            tag={p.tag ?? null}
            sources={[p.from]}
            from={p.from}
            environments={board.data.environments.map((e) => e.name)}
            edges={board.data.edges}
            isAdmin={me.isAdmin}
            to={ended.map((t) => t.environment)}
            onClose={() => setAgain(false)}
          />
        </Suspense>
      )}
    </section>
  );
}
