/**
 * The promote dialog: one artifact, a source environment, the targets the pipeline allows from it (the others
 * disabled with the reason), a preview of what each target would do before anything is sent (queued, needs N
 * approvals and from whom, denied with each failing condition, window, soak), a comment, and the request itself.
 * A native modal <dialog>: the rest of the page is inert, Esc closes it, Tab cycles inside it (the browser alone would
 * let focus leave for its own toolbar), Ctrl+Enter in the comment sends it, and focus goes back to the button that
 * opened it when it closes. The board and the artifact page both open this one dialog, so promote behaves the same
 * wherever it is offered.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import { FINAL, type Promotion } from '../promotion-types.ts';
import { usePollInterval } from '../live.ts';
import type { Edge, PromotionPreview } from '../schemas.ts';
import { Digest, ErrorNote, State } from './format.tsx';
import { useModalDialog } from './modal-dialog.ts';
import { BlockerLine } from './blocker.tsx';

export interface PromoteDialogProps {
  project: string;
  app: string;
  digest: string;
  tag: string | null;
  /** Environments the artifact is in, in pipeline order: where it may be promoted from. */
  sources: string[];
  /** The source to start from (default: the last of `sources`, the furthest the artifact got). */
  from?: string;
  /** Every environment of the project, in pipeline order. */
  environments: string[];
  edges: Edge[];
  isAdmin: boolean;
  /** Targets chosen when it opens (default: the one environment the source leads to, if only one). */
  to?: string[];
  onClose: () => void;
}

/**
 * Moves the focus to the first link inside the element, once, when it appears. Defined out here so its identity is
 * stable: an inline ref callback runs again on every render, and a re-render (a query refetched after the request)
 * would pull the focus back from wherever the keyboard had moved it.
 */
function focusFirstLink(el: HTMLElement | null): void {
  el?.querySelector('a')?.focus();
}

export function PromoteDialog(props: PromoteDialogProps) {
  const qc = useQueryClient();
  const { dialogProps, closeNow } = useModalDialog(props.onClose);
  const [from, setFrom] = useState(props.from ?? props.sources[props.sources.length - 1] ?? '');
  const reachable = new Set(props.edges.filter((e) => e.from === from).map((e) => e.to));
  const [to, setTo] = useState<string[]>(() =>
    props.to !== undefined ? props.to.filter((e) => reachable.has(e)) : reachable.size === 1 ? [...reachable] : [],
  );
  const [override, setOverride] = useState(false);
  const appPath = `/api/v1/projects/${encodeURIComponent(props.project)}/applications/${encodeURIComponent(props.app)}`;
  const body = (comment?: string) => ({
    digest: props.digest,
    from,
    to,
    ...(comment ? { comment } : {}),
    ...(override ? { overrideWindow: true } : {}),
  });
  const preview = useQuery({
    queryKey: ['promote-preview', props.project, props.app, props.digest, from, to, override],
    queryFn: () => api<PromotionPreview>('POST', `${appPath}/promotions/preview`, body()),
    enabled: to.length > 0,
    staleTime: 0,
  });
  const promote = useMutation({
    mutationFn: (comment: string) => api<Promotion>('POST', `${appPath}/promotions`, body(comment)),
    onSuccess: () => {
      for (const key of ['artifacts', 'artifact', 'history', 'promotions', 'board'])
        void qc.invalidateQueries({ queryKey: [key, props.project] });
    },
  });

  // The request just sent, as it is now: the event stream (or polling while it is down) refreshes it, so a queued
  // target turns PROMOTED here without anyone reloading.
  const sentId = promote.data?.id;
  const poll = usePollInterval(2000);
  const sent = useQuery({
    queryKey: ['promotion', props.project, sentId ?? ''],
    queryFn: () =>
      api<Promotion>(
        'GET',
        `/api/v1/projects/${encodeURIComponent(props.project)}/promotions/${encodeURIComponent(sentId ?? '')}`,
      ),
    enabled: sentId !== undefined,
    refetchInterval: (q) => (q.state.data?.targets.every((t) => FINAL.includes(t.state)) ? false : poll),
  });
  const shown = sent.data ?? promote.data;

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    promote.mutate(String(new FormData(e.currentTarget).get('comment') ?? ''));
  }
  const explained = (preview.data?.targets ?? []).some((t) => t.blockedBy.some((b) => b.kind !== 'approvals'));
  const windowBlocked = preview.data?.targets.some((t) => t.blockedBy.some((b) => b.kind === 'window')) ?? false;

  return (
    <dialog {...dialogProps} aria-labelledby="promote-title">
      <h2 id="promote-title">Promote {props.app}</h2>
      <p>
        <Digest value={props.digest} full />
        {props.tag ? ` :${props.tag}` : ''}
      </p>
      {promote.data ? (
        <>
          <ul aria-live="polite">
            {(shown ?? promote.data).targets.map((t) => (
              <li key={t.environment}>
                {t.environment}: <State state={t.state} />
                {t.reasons.length > 0 && ` — ${t.reasons.join('; ')}`}
              </li>
            ))}
          </ul>
          {/* The form went away with the focus in it: the focus moves to the link to the request just made. */}
          <p ref={focusFirstLink}>
            <Link
              href={`/projects/${encodeURIComponent(props.project)}/promotions/${encodeURIComponent(promote.data.id)}`}
            >
              Open the request
            </Link>
          </p>
          <button type="button" onClick={closeNow}>
            Close
          </button>
        </>
      ) : (
        <form onSubmit={submit}>
          <label>
            From
            <select
              value={from}
              onChange={(e) => {
                setFrom(e.target.value);
                setTo([]);
              }}
            >
              {props.sources.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
          <fieldset>
            <legend>To</legend>
            {props.environments
              .filter((e) => e !== from)
              .map((e) => (
                <label key={e} className="inline">
                  <input
                    type="checkbox"
                    name="to"
                    value={e}
                    disabled={!reachable.has(e)}
                    checked={to.includes(e)}
                    onChange={(x) => setTo(x.target.checked ? [...to, e] : to.filter((t) => t !== e))}
                  />{' '}
                  {e}
                  {!reachable.has(e) && (
                    <span className="muted">
                      {' '}
                      (no edge {from} → {e})
                    </span>
                  )}
                </label>
              ))}
          </fieldset>
          <section aria-label="What would happen" aria-live="polite" className="preview">
            {to.length === 0 && <p className="muted">Choose a target to see what would happen.</p>}
            {preview.isError && <ErrorNote error={preview.error} doing="preview the promotion" />}
            {/* A refusal is said once: by each target's blockers (a window or soak as a countdown) when they explain it. */}
            {preview.data?.refusal && !explained && (
              <p className="error">
                <span aria-hidden="true">✖ </span>refused: {preview.data.refusal.message}
              </p>
            )}
            {to.length > 0 &&
              preview.data &&
              (preview.data.refusal === undefined || preview.data.refusal === null || explained) && (
                <ul>
                  {preview.data.targets.map((t) => (
                    <li key={t.environment}>
                      {t.environment}: <State state={t.state} />
                      {t.policy && <span className="muted"> (policy {`${t.policy.name}@${t.policy.version}`})</span>}
                      {t.blockedBy.length > 0 && (
                        <ul className="reasons">
                          {t.blockedBy.map((b, i) => (
                            <li key={i}>
                              <BlockerLine blocker={b} />
                            </li>
                          ))}
                        </ul>
                      )}
                    </li>
                  ))}
                </ul>
              )}
          </section>
          {props.isAdmin && (windowBlocked || override) && (
            <label className="inline">
              <input type="checkbox" checked={override} onChange={(e) => setOverride(e.target.checked)} /> Override the
              promotion window (admin; audited)
            </label>
          )}
          <label>
            Comment
            <textarea
              name="comment"
              rows={2}
              aria-describedby="promote-comment-hint"
              onKeyDown={(e) => {
                if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                  e.preventDefault();
                  e.currentTarget.form?.requestSubmit();
                }
              }}
            />
          </label>
          <p id="promote-comment-hint" className="muted">
            Ctrl+Enter sends the request.
          </p>
          {promote.isError && <ErrorNote error={promote.error} doing="request the promotion" />}
          <div className="actions">
            <button type="submit" disabled={promote.isPending || to.length === 0}>
              Request promotion
            </button>
            <button type="button" className="secondary" onClick={closeNow}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
