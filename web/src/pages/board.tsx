/**
 * The environment board of a project: applications down, environments across in pipeline order. Each cell says
 * which digest (and tag) the environment holds and since when; "newer upstream" marks a cell whose previous stage
 * holds a newer build. Promote opens a dialog with the targets the pipeline allows from that cell. It refreshes
 * every few seconds, so what changed on the server shows without a reload.
 */
import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import { usePollInterval } from '../live.ts';
import type { Promotion } from '../promotion-types.ts';
import { roleIn, useSignedIn } from '../session.tsx';
import { CellLinks } from '../ui/cell-links.tsx';
import { Digest, ErrorNote, State, Time } from '../ui/format.tsx';

interface EnvironmentView {
  name: string;
  position: number;
  protected: boolean;
  soakSeconds: number;
}

interface ArtifactView {
  application: string;
  digest: string;
  tag: string | null;
  quarantine: { reason: string } | null;
  environments: Array<{ environment: string; tag: string | null; since: string }>;
}

interface Cell {
  artifact: ArtifactView;
  tag: string | null;
  since: string;
}

/** Per environment, the artifact that arrived there last. */
export function cellsOf(artifacts: ArtifactView[]): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  for (const artifact of artifacts)
    for (const at of artifact.environments) {
      const known = cells.get(at.environment);
      if (!known || known.since < at.since) cells.set(at.environment, { artifact, tag: at.tag, since: at.since });
    }
  return cells;
}

export default function Board({ project }: { project: string }) {
  const me = useSignedIn();
  const base = `/api/v1/projects/${encodeURIComponent(project)}`;
  const poll = usePollInterval(3000);
  const envs = useQuery({
    queryKey: ['environments', project],
    queryFn: () => api<{ items: EnvironmentView[] }>('GET', `${base}/environments`),
  });
  const pipeline = useQuery({
    queryKey: ['pipeline', project],
    queryFn: () => api<{ edges: Array<{ from: string; to: string }> }>('GET', `${base}/pipeline`),
  });
  const apps = useQuery({
    queryKey: ['applications', project],
    queryFn: () => api<{ items: string[] }>('GET', `${base}/applications`),
  });
  const artifacts = useQueries({
    queries: (apps.data?.items ?? []).map((app) => ({
      queryKey: ['artifacts', project, app],
      queryFn: () => api<{ items: ArtifactView[] }>('GET', `${base}/applications/${encodeURIComponent(app)}/artifacts`),
      refetchInterval: poll,
    })),
  });
  const [promoting, setPromoting] = useState<{ app: string; from: string; cell: Cell } | null>(null);
  const ordered = [...(envs.data?.items ?? [])].sort((a, b) => a.position - b.position);
  const edges = pipeline.data?.edges ?? [];
  const role = roleIn(me, project);
  const mayRequest = role === 'admin' || role === 'owner' || role === 'promoter' || role === 'developer';
  const error = envs.error ?? pipeline.error ?? apps.error;

  return (
    <section>
      <h1>{project}: environments</h1>
      <nav aria-label={`${project} pages`} className="subnav">
        <Link href={`/projects/${encodeURIComponent(project)}/history`}>History</Link>
        <Link href={`/projects/${encodeURIComponent(project)}/settings`}>Environments and applications</Link>
      </nav>
      {error && <ErrorNote error={error} doing="load the board" />}
      {apps.data && apps.data.items.length === 0 && (
        <p>No applications yet. Add one with hoist app add {project} NAME.</p>
      )}
      {ordered.length > 0 && (apps.data?.items.length ?? 0) > 0 && (
        <table className="board">
          <thead>
            <tr>
              <th scope="col">application</th>
              {ordered.map((e) => (
                <th scope="col" key={e.name}>
                  {e.name}
                  {e.protected && <span className="tag"> 🔒 protected</span>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {(apps.data?.items ?? []).map((app, i) => {
              const cells = cellsOf(artifacts[i]?.data?.items ?? []);
              return (
                <tr key={app}>
                  <th scope="row">{app}</th>
                  {ordered.map((e, k) => {
                    const cell = cells.get(e.name);
                    const upstream = k > 0 ? cells.get(ordered[k - 1]?.name ?? '') : undefined;
                    const newer =
                      upstream &&
                      (!cell || upstream.since > cell.since) &&
                      upstream.artifact.digest !== cell?.artifact.digest;
                    const targets = edges.filter((x) => x.from === e.name);
                    return (
                      <td key={e.name} data-cell={`${app}/${e.name}`}>
                        {cell ? (
                          <>
                            <Digest value={cell.artifact.digest} />
                            {cell.tag && <div>:{cell.tag}</div>}
                            <div className="muted">
                              since <Time at={cell.since} />
                            </div>
                            {cell.artifact.quarantine && (
                              <div className="error">⚠ quarantined: {cell.artifact.quarantine.reason}</div>
                            )}
                            {targets.length > 0 && (
                              <button
                                type="button"
                                disabled={!mayRequest}
                                title={mayRequest ? undefined : 'needs the developer, promoter or owner role'}
                                onClick={() => setPromoting({ app, from: e.name, cell })}
                              >
                                Promote {app} from {e.name}…
                              </button>
                            )}
                          </>
                        ) : (
                          <span className="muted">empty</span>
                        )}
                        {newer && <div className="muted">⬆ newer build upstream</div>}
                        {cell && (
                          <CellLinks
                            project={project}
                            app={app}
                            environment={e.name}
                            digest={cell.artifact.digest}
                            next={targets[0]?.to}
                          />
                        )}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {promoting && (
        <PromoteDialog
          project={project}
          app={promoting.app}
          from={promoting.from}
          cell={promoting.cell}
          environments={ordered.map((e) => e.name)}
          edges={edges}
          onClose={() => setPromoting(null)}
        />
      )}
    </section>
  );
}

function PromoteDialog(props: {
  project: string;
  app: string;
  from: string;
  cell: Cell;
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
          digest: props.cell.artifact.digest,
          from: props.from,
          to: v.to,
          ...(v.comment ? { comment: v.comment } : {}),
        },
      ),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['artifacts', props.project] }),
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
        <Digest value={props.cell.artifact.digest} full />
        {props.cell.tag ? ` :${props.cell.tag}` : ''}
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
