/**
 * My approvals: every target waiting for approval in the projects the caller may decide in, with why they may
 * approve it or why not ("you requested this"). Approve here for one target; rejecting asks for a comment.
 */
import { useRef, useState } from 'react';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import { usePollInterval } from '../live.ts';
import type { Promotion } from '../promotion-types.ts';
import { useSignedIn } from '../session.tsx';
import { Digest, ErrorNote, Time } from '../ui/format.tsx';
import { whyMay, whyNot } from './promotion.tsx';

export default function Approvals() {
  const me = useSignedIn();
  const qc = useQueryClient();
  const poll = usePollInterval(5000);
  const projects = useQuery({
    queryKey: ['projects'],
    queryFn: () => api<{ items: Array<{ name: string }> }>('GET', '/api/v1/projects?limit=1000'),
  });
  const deciding = (projects.data?.items ?? [])
    .map((p) => p.name)
    .filter(
      (p) => me.isAdmin || me.memberships.some((m) => m.project === p && (m.role === 'promoter' || m.role === 'owner')),
    );
  const waiting = useQueries({
    queries: deciding.map((project) => ({
      queryKey: ['promotions', project, 'AWAITING_APPROVAL'],
      queryFn: () =>
        api<{ items: Promotion[] }>(
          'GET',
          `/api/v1/projects/${encodeURIComponent(project)}/promotions?state=AWAITING_APPROVAL`,
        ),
      refetchInterval: poll,
    })),
  });
  const [rejecting, setRejecting] = useState<string | null>(null);
  // What was just decided: the row goes away, so the message takes the keyboard focus (it would fall to the page).
  const [decided, setDecided] = useState<string | null>(null);
  const decidedRef = useRef<HTMLParagraphElement | null>(null);
  const decide = useMutation({
    mutationFn: (v: { p: Promotion; env: string; decision: 'approve' | 'reject'; comment: string }) =>
      api<Promotion>(
        'POST',
        `/api/v1/projects/${encodeURIComponent(v.p.project)}/promotions/${encodeURIComponent(v.p.id)}/${v.decision}`,
        { comment: v.comment, environments: [v.env] },
      ),
    onSuccess: (_, v) => {
      setRejecting(null);
      setDecided(
        `${v.decision === 'approve' ? 'Approved' : 'Rejected'} ${v.p.project}/${v.p.application} for ${v.env}.`,
      );
      setTimeout(() => decidedRef.current?.focus());
      void qc.invalidateQueries({ queryKey: ['promotions'] });
      void qc.invalidateQueries({ queryKey: ['me'] });
    },
  });

  const rows = waiting
    .flatMap((q) => q.data?.items ?? [])
    .flatMap((p) => p.targets.filter((t) => t.state === 'AWAITING_APPROVAL').map((t) => ({ p, t })));
  const failed = waiting.find((q) => q.isError);

  return (
    <section>
      <h1>My approvals</h1>
      {projects.isError && <ErrorNote error={projects.error} doing="load projects" />}
      {failed?.error && <ErrorNote error={failed.error} doing="load waiting promotions" />}
      {decide.isError && <ErrorNote error={decide.error} doing="record your decision" />}
      <p role="status" tabIndex={-1} ref={decidedRef} className={decided ? 'ok' : undefined}>
        {decided}
      </p>
      {projects.data && deciding.length === 0 && (
        <p>
          You approve in no project. Project owners grant the promoter role (hoist project grant PROJECT USER promoter).
        </p>
      )}
      {deciding.length > 0 && rows.length === 0 && waiting.every((q) => q.isSuccess) && (
        <p>Nothing waits for an approval. Requests that need one show up here by themselves.</p>
      )}
      {rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">application</th>
              <th scope="col">image</th>
              <th scope="col">from → to</th>
              <th scope="col">requested by</th>
              <th scope="col">age</th>
              <th scope="col">approvals</th>
              <th scope="col">policy</th>
              <th scope="col">you</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ p, t }) => {
              const why = whyNot(me, p, t);
              const key = `${p.id}/${t.environment}`;
              return (
                <tr key={key}>
                  <td>
                    <Link href={`/projects/${encodeURIComponent(p.project)}/promotions/${encodeURIComponent(p.id)}`}>
                      {p.project}/{p.application}
                    </Link>
                  </td>
                  <td>
                    <Digest value={p.digest} />
                    {p.tag ? <> :{p.tag}</> : null}
                  </td>
                  <td>
                    {p.from} → {t.environment}
                  </td>
                  <td>{p.requestedBy}</td>
                  <td>
                    <Time at={p.createdAt} />
                  </td>
                  <td>
                    {t.approvals.filter((a) => a.decision === 'approve').length}/{t.approvalsNeeded}
                  </td>
                  <td>{t.policy ? `${t.policy.name}@${t.policy.version}` : '—'}</td>
                  <td>
                    {why !== null ? (
                      <span className="muted">You cannot approve: {why}</span>
                    ) : rejecting === key ? (
                      <form
                        onSubmit={(e) => {
                          e.preventDefault();
                          const comment = String(new FormData(e.currentTarget).get('comment') ?? '');
                          decide.mutate({ p, env: t.environment, decision: 'reject', comment });
                        }}
                      >
                        <label>
                          Reason for rejecting
                          <input name="comment" required />
                        </label>
                        <button type="submit">Reject</button>
                      </form>
                    ) : (
                      <>
                        <button
                          type="button"
                          disabled={decide.isPending}
                          onClick={() => decide.mutate({ p, env: t.environment, decision: 'approve', comment: '' })}
                        >
                          Approve {t.environment}
                        </button>{' '}
                        <button type="button" className="secondary" onClick={() => setRejecting(key)}>
                          Reject…
                        </button>
                        <div className="muted">You may approve: {whyMay(me, p, t)}.</div>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
