/**
 * The environment board of a project: applications down, environments across in pipeline order, from one call
 * (GET …/board). Each cell says which digest (and tag) the environment holds, since when and who brought it (with a
 * link to the request), whether it tracks the latest build or is pinned, whether the build still soaks ("may leave
 * in 12 min"), whether the environment's window is closed (and when it opens), the requests waiting for it, and
 * whether a newer build waits upstream. Promote opens a dialog with the targets the pipeline allows from that cell.
 * The event stream refreshes it (it polls while the stream is down), so what changed shows without a reload.
 */
import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import type { components } from '../../../src/client/openapi.ts';
import { api } from '../api.ts';
import { usePollInterval } from '../live.ts';
import type { Promotion } from '../promotion-types.ts';
import { roleIn, useSignedIn } from '../session.tsx';
import { CellLinks } from '../ui/cell-links.tsx';
import { Digest, ErrorNote, shortDigest, State, Time } from '../ui/format.tsx';

type BoardData = components['schemas']['Board'];
type Cell = components['schemas']['BoardCell'];
type Held = NonNullable<Cell['current']>;

export default function Board({ project }: { project: string }) {
  const me = useSignedIn();
  const base = `/projects/${encodeURIComponent(project)}`;
  const poll = usePollInterval(3000);
  const board = useQuery({
    queryKey: ['board', project],
    queryFn: () => api<BoardData>('GET', `/api/v1${base}/board`),
    refetchInterval: poll,
  });
  const [promoting, setPromoting] = useState<{ app: string; from: string; held: Held } | null>(null);
  const environments = board.data?.environments ?? [];
  const applications = board.data?.applications ?? [];
  const edges = board.data?.edges ?? [];
  const role = roleIn(me, project);
  const mayRequest = role === 'admin' || role === 'owner' || role === 'promoter' || role === 'developer';

  return (
    <section>
      <h1>{project}: environments</h1>
      <nav aria-label={`${project} pages`} className="subnav">
        <Link href={`${base}/history`}>History</Link>
        <Link href={`${base}/settings`}>Environments and applications</Link>
      </nav>
      {board.error && <ErrorNote error={board.error} doing="load the board" />}
      {board.data && applications.length === 0 && (
        <p>No applications yet. Add one with hoist app add {project} NAME.</p>
      )}
      {environments.length > 0 && applications.length > 0 && (
        <table className="board">
          <thead>
            <tr>
              <th scope="col">application</th>
              {environments.map((e) => (
                <th scope="col" key={e.name}>
                  {e.name}
                  {e.protected && <span className="tag"> 🔒 protected</span>}
                  {e.windows.length > 0 && <div className="muted">windows: {e.windows.join('; ')}</div>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {applications.map((row) => (
              <tr key={row.name}>
                <th scope="row">{row.name}</th>
                {row.cells.map((cell) => (
                  <td key={cell.environment} data-cell={`${row.name}/${cell.environment}`}>
                    <CellView
                      project={project}
                      app={row.name}
                      cell={cell}
                      next={edges.find((x) => x.from === cell.environment)?.to}
                      mayRequest={mayRequest}
                      onPromote={(held) => setPromoting({ app: row.name, from: cell.environment, held })}
                    />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {promoting && (
        <PromoteDialog
          project={project}
          app={promoting.app}
          from={promoting.from}
          held={promoting.held}
          environments={environments.map((e) => e.name)}
          edges={edges}
          onClose={() => setPromoting(null)}
        />
      )}
    </section>
  );
}

function CellView(props: {
  project: string;
  app: string;
  cell: Cell;
  /** The first environment the pipeline leads to from here, if any. */
  next: string | undefined;
  mayRequest: boolean;
  onPromote: (held: Held) => void;
}) {
  const { cell, app } = props;
  const held = cell.current;
  const requestHref = (id: string) =>
    `/projects/${encodeURIComponent(props.project)}/promotions/${encodeURIComponent(id)}`;
  return (
    <>
      {held ? (
        <>
          <Digest value={held.digest} />
          {held.tag && <div>:{held.tag}</div>}
          <div className="muted">
            since <Time at={held.since} /> by {held.by}
            {held.request && (
              <>
                {' '}
                (<Link href={requestHref(held.request)}>request</Link>)
              </>
            )}
          </div>
          {held.quarantine && <div className="error">⚠ quarantined: {held.quarantine.reason}</div>}
        </>
      ) : (
        <span className="muted">empty</span>
      )}
      {cell.binding &&
        (cell.binding.mode === 'pin' ? (
          <div title={`pinned by ${cell.binding.updatedBy}`}>
            📌 pinned to <code>{shortDigest(cell.binding.pinnedDigest ?? '')}</code>
          </div>
        ) : (
          <div title={`set by ${cell.binding.updatedBy}`}>↻ tracks latest</div>
        ))}
      {cell.soak?.soaking && (
        <div className="muted">
          ⏳ soaking: may leave <Time at={cell.soak.until} />
        </div>
      )}
      {!cell.window.open && (
        <div className="muted">
          🚫 window closed
          {cell.window.opensAt ? (
            <>
              ; opens <Time at={cell.window.opensAt} />
            </>
          ) : (
            '; none opens within a week'
          )}
        </div>
      )}
      {cell.pending.length > 0 && (
        <ul className="pending">
          {cell.pending.map((p) => (
            <li key={p.request}>
              <Link href={requestHref(p.request)}>
                <State state={p.state} />
                {p.approvals && ` ${p.approvals.have}/${p.approvals.need} approvals`}
              </Link>{' '}
              <span className="muted">{p.tag ? `:${p.tag}` : shortDigest(p.digest)}</span>
            </li>
          ))}
        </ul>
      )}
      {cell.newerUpstream && (
        <div className="muted" title={cell.newerUpstream.digest}>
          ⬆ newer build upstream in {cell.newerUpstream.environment}
          {cell.newerUpstream.tag ? ` (:${cell.newerUpstream.tag})` : ''}
          {cell.newerUpstream.soaking && (
            <>
              , soaks until <Time at={cell.newerUpstream.soakedAt} />
            </>
          )}
        </div>
      )}
      {held && (
        <CellLinks
          project={props.project}
          app={app}
          environment={cell.environment}
          digest={held.digest}
          {...(props.next !== undefined ? { next: props.next } : {})}
        />
      )}
      {held && props.next !== undefined && (
        <button
          type="button"
          disabled={!props.mayRequest}
          title={props.mayRequest ? undefined : 'needs the developer, promoter or owner role'}
          onClick={() => props.onPromote(held)}
        >
          Promote {app} from {cell.environment}…
        </button>
      )}
    </>
  );
}

function PromoteDialog(props: {
  project: string;
  app: string;
  from: string;
  held: Held;
  environments: string[];
  edges: Array<{ from: string; to: string }>;
  onClose: () => void;
}) {
  const qc = useQueryClient();
  const dialog = useRef<HTMLDialogElement>(null);
  const reachable = new Set(props.edges.filter((e) => e.from === props.from).map((e) => e.to));
  const promote = useMutation({
    mutationFn: (v: { to: string[]; comment: string }) =>
      api<Promotion>(
        'POST',
        `/api/v1/projects/${encodeURIComponent(props.project)}/applications/${encodeURIComponent(props.app)}/promotions`,
        {
          digest: props.held.digest,
          from: props.from,
          to: v.to,
          ...(v.comment ? { comment: v.comment } : {}),
        },
      ),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['board', props.project] }),
  });

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    promote.mutate({ to: form.getAll('to').map(String), comment: String(form.get('comment') ?? '') });
  }

  return (
    <dialog
      ref={(d) => {
        (dialog as { current: HTMLDialogElement | null }).current = d;
        if (d && !d.open) d.showModal();
      }}
      aria-labelledby="promote-title"
      onClose={props.onClose}
    >
      <h2 id="promote-title">
        Promote {props.app} from {props.from}
      </h2>
      <p>
        <Digest value={props.held.digest} full />
        {props.held.tag ? ` :${props.held.tag}` : ''}
      </p>
      {promote.data ? (
        <>
          <ul>
            {promote.data.targets.map((t) => (
              <li key={t.environment}>
                {t.environment}: <State state={t.state} />
                {t.reasons.length > 0 && ` — ${t.reasons.join('; ')}`}
              </li>
            ))}
          </ul>
          <p>
            <Link
              href={`/projects/${encodeURIComponent(props.project)}/promotions/${encodeURIComponent(promote.data.id)}`}
            >
              Open the request
            </Link>
          </p>
          <button type="button" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </>
      ) : (
        <form onSubmit={submit}>
          <fieldset>
            <legend>To</legend>
            {props.environments
              .filter((e) => e !== props.from)
              .map((e) => (
                <label key={e} className="inline">
                  <input
                    type="checkbox"
                    name="to"
                    value={e}
                    disabled={!reachable.has(e)}
                    defaultChecked={reachable.has(e) && reachable.size === 1}
                  />{' '}
                  {e}
                  {!reachable.has(e) && (
                    <span className="muted">
                      {' '}
                      (no edge {props.from} → {e})
                    </span>
                  )}
                </label>
              ))}
          </fieldset>
          <label>
            Comment
            <textarea name="comment" rows={2} />
          </label>
          {promote.isError && <ErrorNote error={promote.error} doing="request the promotion" />}
          <div className="actions">
            <button type="submit" disabled={promote.isPending}>
              Request promotion
            </button>
            <button type="button" className="secondary" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
