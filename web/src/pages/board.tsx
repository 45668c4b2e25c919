/**
 * The environment board of a project: applications down, environments across in pipeline order, from one call
 * (GET …/board). Each cell says which digest (and tag) the environment holds, since when and who brought it (with a
 * link to the request), whether it tracks the latest build or is pinned, whether the build still soaks ("may leave
 * in 12 min"), whether the environment's window is closed (and when it opens), the requests waiting for it, and
 * whether a newer build waits upstream. Promote opens a dialog with the targets the pipeline allows from that cell.
 * The event stream refreshes it (it polls while the stream is down), so what changed shows without a reload.
 * Drawn cheaply (50 × 6 cells): rows memoised, the cells' links plain anchors followed by one handler on the table,
 * one shared tick for every relative time; the stylesheet fixes the columns' widths and skips cells off screen.
 */
import { lazy, memo, Suspense, useCallback, useEffect, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import type { components } from '../../../src/client/openapi.ts';
import { boardQuery } from '../board-query.ts';
import { usePollInterval } from '../live.ts';
import { roleIn, useSignedIn } from '../session.tsx';
import { CellLinks } from '../ui/cell-links.tsx';
import { useFollowLinks } from '../ui/follow-links.ts';
import { Digest, ErrorNote, shortDigest, State, Time } from '../ui/format.tsx';

// The dialog's code is not needed to draw the board: it loads once the board is drawn (so the first click finds it).
const loadPromoteDialog = () => import('../ui/promote-dialog.tsx');
const PromoteDialog = lazy(() => loadPromoteDialog().then((m) => ({ default: m.PromoteDialog })));
/** The note that says what the caller's role allows here: a disabled Promote in any cell is described by it. */
const ROLE_NOTE = 'board-role-note';
const BindingDialog = lazy(() => import('../ui/binding-dialog.tsx').then((m) => ({ default: m.BindingDialog })));

type Row = components['schemas']['Board']['applications'][number];
type Edge = components['schemas']['Board']['edges'][number];
type Cell = components['schemas']['BoardCell'];
type Held = NonNullable<Cell['current']>;

export default function Board({ project }: { project: string }) {
  const me = useSignedIn();
  const base = `/projects/${encodeURIComponent(project)}`;
  const poll = usePollInterval(3000);
  const board = useQuery({ ...boardQuery(project), refetchInterval: poll });
  const [promoting, setPromoting] = useState<{ app: string; from: string; held: Held } | null>(null);
  const environments = board.data?.environments ?? [];
  const applications = board.data?.applications ?? [];
  const edges = board.data?.edges ?? [];
  const role = roleIn(me, project);
  const mayRequest = role === 'admin' || role === 'owner' || role === 'promoter' || role === 'developer';
  const openPromote = useCallback((app: string, from: string, held: Held) => setPromoting({ app, from, held }), []);
  const [binding, setBinding] = useState<{ app: string; cell: Cell } | null>(null);
  const openBinding = useCallback((app: string, cell: Cell) => setBinding({ app, cell }), []);
  const followLinks = useFollowLinks();
  const drawn = board.data !== undefined;
  useEffect(() => {
    if (drawn) void loadPromoteDialog();
  }, [drawn]);

  return (
    <section>
      <h1>{project}: environments</h1>
      <nav aria-label={`${project} pages`} className="subnav">
        <Link href={`${base}/history`}>History</Link>
        <Link href={`${base}/settings`}>Environments and applications</Link>
      </nav>
      {board.error && <ErrorNote error={board.error} doing="load the board" />}
      {board.data && !mayRequest && (
        <p className="muted" id={ROLE_NOTE}>
          You see {project} as {role === null ? 'a visitor' : `a ${role}`}: promoting needs the developer, promoter or
          owner role, pinning the owner or promoter role.
        </p>
      )}
      {board.data && applications.length === 0 && (
        <p>No applications yet. Add one with hoist app add {project} NAME.</p>
      )}
      {environments.length > 0 && applications.length > 0 && (
        <table className="board" onClick={followLinks}>
          <thead>
            <tr>
              <th scope="col">application</th>
              {environments.map((e) => (
                <th scope="col" key={e.name}>
                  {e.name}
                  {e.protected && (
                    <span className="tag">
                      {' '}
                      <span aria-hidden="true">⚑ </span>protected
                    </span>
                  )}
                  {e.windows.length > 0 && <div className="muted">windows: {e.windows.join('; ')}</div>}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {applications.map((row) => (
              <BoardRow
                key={row.name}
                project={project}
                row={row}
                edges={edges}
                mayRequest={mayRequest}
                onPromote={openPromote}
                onBinding={openBinding}
              />
            ))}
          </tbody>
        </table>
      )}
      {promoting && (
        <Suspense fallback={null}>
          <PromoteDialog
            project={project}
            app={promoting.app}
            digest={promoting.held.digest}
            tag={promoting.held.tag ?? null}
            sources={sourcesOf(applications.find((a) => a.name === promoting.app)?.cells ?? [], promoting.held.digest)}
            from={promoting.from}
            environments={environments.map((e) => e.name)}
            edges={edges}
            isAdmin={me.isAdmin}
            onClose={() => setPromoting(null)}
          />
        </Suspense>
      )}
      {binding && (
        <Suspense fallback={null}>
          <BindingDialog
            project={project}
            app={binding.app}
            environment={binding.cell.environment}
            binding={binding.cell.binding}
            held={binding.cell.current?.digest ?? null}
            onClose={() => setBinding(null)}
          />
        </Suspense>
      )}
    </section>
  );
}

/**
 * One application's row. Memoised: the board's answer keeps the objects of rows that did not change (structural
 * sharing), so an event that changes one cell re-renders one row, and the stream connecting re-renders none.
 */
const BoardRow = memo(function BoardRow(props: {
  project: string;
  row: Row;
  edges: Edge[];
  mayRequest: boolean;
  onPromote: (app: string, from: string, held: Held) => void;
  onBinding: (app: string, cell: Cell) => void;
}) {
  const { row } = props;
  return (
    <tr>
      <th scope="row">{row.name}</th>
      {row.cells.map((cell) => (
        <td key={cell.environment} data-cell={`${row.name}/${cell.environment}`}>
          <div className="cell">
            <CellView
              project={props.project}
              app={row.name}
              cell={cell}
              next={props.edges.find((x) => x.from === cell.environment)?.to}
              upstream={props.edges.some((x) => x.to === cell.environment)}
              mayRequest={props.mayRequest}
              onPromote={(held) => props.onPromote(row.name, cell.environment, held)}
              onBinding={() => props.onBinding(row.name, cell)}
            />
          </div>
        </td>
      ))}
    </tr>
  );
});

/** The environments of a row that hold `digest`, in pipeline order: where the dialog may promote it from. */
function sourcesOf(cells: Cell[], digest: string): string[] {
  return cells.filter((c) => c.current?.digest === digest).map((c) => c.environment);
}

function CellView(props: {
  project: string;
  app: string;
  cell: Cell;
  /** The first environment the pipeline leads to from here, if any. */
  next: string | undefined;
  /** Whether an edge leads here (a binding tracks what comes from upstream). */
  upstream: boolean;
  mayRequest: boolean;
  onPromote: (held: Held) => void;
  onBinding: () => void;
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
                (<a href={requestHref(held.request)}>request</a>)
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
          <div>
            <span aria-hidden="true">◉ </span>pinned to <code>{shortDigest(cell.binding.pinnedDigest ?? '')}</code> by{' '}
            {cell.binding.updatedBy}
          </div>
        ) : (
          <div>
            <span aria-hidden="true">↻ </span>tracks latest (set by {cell.binding.updatedBy})
          </div>
        ))}
      {cell.soak?.soaking && (
        <div className="muted">
          <span aria-hidden="true">◷ </span>soaking: may leave <Time at={cell.soak.until} />
        </div>
      )}
      {!cell.window.open && (
        <div className="muted">
          <span aria-hidden="true">⊘ </span>window closed
          {cell.window.opensAt ? (
            <>
              ; opens {wallClock(cell.window.opensAt, cell.window.timeZone)}, <Time at={cell.window.opensAt} />
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
              <a href={requestHref(p.request)}>
                <State state={p.state} />
                {p.approvals && ` ${p.approvals.have}/${p.approvals.need} approvals`}
              </a>{' '}
              <span className="muted">{p.tag ? `:${p.tag}` : shortDigest(p.digest)}</span>
            </li>
          ))}
        </ul>
      )}
      {cell.newerUpstream && (
        <div className="muted" title={cell.newerUpstream.digest}>
          <span aria-hidden="true">⬆ </span>newer build upstream in {cell.newerUpstream.environment}
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
      <div className="cell-actions">
        {held && props.next !== undefined && (
          <button
            type="button"
            disabled={!props.mayRequest}
            title={props.mayRequest ? undefined : 'needs the developer, promoter or owner role'}
            aria-describedby={props.mayRequest ? undefined : ROLE_NOTE}
            onClick={() => props.onPromote(held)}
          >
            Promote {app} from {cell.environment}…
          </button>
        )}
        {props.upstream && (
          <button type="button" className="secondary" onClick={props.onBinding}>
            Pin / track…
            <span className="visually-hidden">
              {' '}
              {app} in {cell.environment}
            </span>
          </button>
        )}
      </div>
    </>
  );
}

const wallClocks = new Map<string, Intl.DateTimeFormat>();
/** "Mon 09:00 Europe/Berlin": when a window opens, on the clock of the window's own time zone. */
function wallClock(at: string, timeZone: string | null): string {
  const zone = timeZone ?? 'UTC';
  let format = wallClocks.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', { weekday: 'short', hour: '2-digit', minute: '2-digit', timeZone: zone });
    wallClocks.set(zone, format);
  }
  return `${format.format(new Date(at))} ${zone}`;
}
