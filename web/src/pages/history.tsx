/**
 * History for auditors: what was promoted or refused, when, by whom, from where to where, with the reason and the
 * approvals. Filters live in the URL; the CSV export holds exactly the rows the filters show.
 */
import { useState, type FormEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api.ts';
import { Digest, ErrorNote, State, Time } from '../ui/format.tsx';
import { useSearchParams } from '../ui/use-search-params.ts';

interface HistoryEntry {
  at: string;
  request: string;
  application: string;
  from: string;
  to: string;
  digest: string;
  tag: string | null;
  state: string;
  requestedBy: string;
  comment: string;
  approvals: Array<{ username: string; decision: string; at: string }>;
  policy: { name: string; version: number; allowed: boolean } | null;
  bytesCopied: number;
  reason: string | null;
  /** A release's promotion: every application's digest (application and digest above are its first one's). */
  release?: { name: string; applications: Array<{ application: string; digest: string; tag: string | null }> };
}

/** The application column: the application, or the release and its applications. */
const appsOf = (r: HistoryEntry): string =>
  r.release
    ? `release ${r.release.name}: ${r.release.applications.map((a) => a.application).join(', ')}`
    : r.application;

const FILTERS = ['app', 'env', 'user', 'digest', 'state', 'since', 'until'] as const;
const FINISHED = ['PROMOTED', 'REJECTED', 'FAILED', 'STALE', 'CANCELED'];

/** The UTC midnight starting `day` (YYYY-MM-DD), plus `days`; undefined for anything else (a hand-edited URL). */
function dayStart(day: string | null, days = 0): string | undefined {
  if (day === null || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(t) ? undefined : new Date(t + days * 86_400_000).toISOString();
}

type HistoryPage = { items: HistoryEntry[]; nextCursor: string | null };

function csvCell(v: string): string {
  // Quote every cell; a leading =, +, - or @ is defused so a spreadsheet does not run it as a formula.
  const safe = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return `"${safe.replace(/"/g, '""')}"`;
}

export function toCsv(rows: HistoryEntry[]): string {
  const head = [
    'at',
    'application',
    'from',
    'to',
    'digest',
    'tag',
    'state',
    'requestedBy',
    'approvals',
    'policy',
    'reason',
    'comment',
    'request',
  ];
  const lines = rows.map((r) =>
    [
      r.at,
      appsOf(r),
      r.from,
      r.to,
      r.release ? r.release.applications.map((a) => `${a.application}@${a.digest}`).join(' ') : r.digest,
      r.tag ?? '',
      r.state,
      r.requestedBy,
      r.approvals.map((a) => `${a.username}:${a.decision}@${a.at}`).join(' '),
      r.policy ? `${r.policy.name}@${r.policy.version}` : '',
      r.reason ?? '',
      r.comment,
      r.request,
    ]
      .map(csvCell)
      .join(','),
  );
  return [head.join(','), ...lines].join('\r\n') + '\r\n';
}

export default function History({ project }: { project: string }) {
  const [params, setParams] = useSearchParams();
  const query = new URLSearchParams();
  for (const k of ['app', 'env', 'user', 'digest'] as const) {
    const v = params.get(k);
    if (v) query.set(k, v);
  }
  const state = params.get('state');
  if (state && FINISHED.includes(state)) query.set('state', state);
  const since = params.get('since');
  const until = params.get('until');
  const from = dayStart(since);
  const to = dayStart(until, 1); // the whole last day
  if (from) query.set('since', from);
  if (to) query.set('until', to);
  const path = `/api/v1/projects/${encodeURIComponent(project)}/history`;
  const history = useQuery({
    queryKey: ['history', project, query.toString()],
    queryFn: () => api<HistoryPage>('GET', `${path}?${query}&limit=1000`),
  });
  // The server filters (so a page of 1000 holds only matching rows); a state that is not finished matches nothing.
  const rows = state && !FINISHED.includes(state) ? [] : (history.data?.items ?? []);
  const more = history.data?.nextCursor != null;
  const [exporting, setExporting] = useState<unknown>(null);

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setParams(Object.fromEntries(FILTERS.map((k) => [k, String(form.get(k) ?? '').trim()])));
  }

  async function exportCsv() {
    // Every row the filters match, page after page: the table shows the newest 1000, the CSV holds them all.
    const all = [...rows];
    let cursor = history.data?.nextCursor ?? null;
    try {
      while (cursor !== null) {
        const page: HistoryPage = await api('GET', `${path}?${query}&limit=1000&cursor=${encodeURIComponent(cursor)}`);
        all.push(...page.items);
        cursor = page.nextCursor;
      }
    } catch (e) {
      setExporting(e);
      return;
    }
    setExporting(null);
    const url = URL.createObjectURL(new Blob([toCsv(all)], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `hoist-history-${project}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  }

  return (
    <section>
      <h1>History of {project}</h1>
      <form className="filters" onSubmit={apply} key={params.toString()}>
        {(['app', 'env', 'user', 'digest'] as const).map((k) => (
          <label key={k}>
            {k === 'app' ? 'application' : k === 'env' ? 'environment' : k}
            <input name={k} defaultValue={params.get(k) ?? ''} />
          </label>
        ))}
        <label>
          state
          <select name="state" defaultValue={state ?? ''}>
            <option value="">any</option>
            {FINISHED.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          since (UTC day)
          <input name="since" type="date" defaultValue={from ? (since ?? '') : ''} />
        </label>
        <label>
          until (UTC day, included)
          <input name="until" type="date" defaultValue={to ? (until ?? '') : ''} />
        </label>
        <button type="submit">Filter</button>
        <button type="button" className="secondary" disabled={rows.length === 0} onClick={() => void exportCsv()}>
          Export CSV ({more ? `${rows.length}+` : rows.length})
        </button>
      </form>
      {history.isError && <ErrorNote error={history.error} doing="load the history (check the filters)" />}
      {exporting !== null && <ErrorNote error={exporting} doing="export the CSV" />}
      {history.data && rows.length === 0 && (
        <p>No finished promotion matches these filters. Widen them (clear a field) and filter again.</p>
      )}
      {more && (
        <p className="muted">
          Showing the newest {rows.length} rows; narrow the filters to see older ones here, or export the CSV, which
          holds every matching row.
        </p>
      )}
      {rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">when</th>
              <th scope="col">application</th>
              <th scope="col">from → to</th>
              <th scope="col">image</th>
              <th scope="col">state</th>
              <th scope="col">requested by</th>
              <th scope="col">approvals</th>
              <th scope="col">reason</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.request}/${r.to}`}>
                <td>
                  <Time at={r.at} />
                </td>
                <td>{appsOf(r)}</td>
                <td>
                  {r.from} → {r.to}
                </td>
                <td>
                  {r.release ? (
                    r.release.applications.map((a) => (
                      <div key={a.application}>
                        {a.application} <Digest value={a.digest} />
                      </div>
                    ))
                  ) : (
                    <>
                      <Digest value={r.digest} />
                      {r.tag ? ` :${r.tag}` : ''}
                    </>
                  )}
                </td>
                <td>
                  <State state={r.state} />
                </td>
                <td>{r.requestedBy}</td>
                <td>{r.approvals.map((a) => `${a.username} (${a.decision})`).join(', ') || '—'}</td>
                <td>{r.reason ?? (r.policy ? `${r.policy.name}@${r.policy.version}` : '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
