/** The audit log (admins): newest entries with their hashes, and "verify chain" that recomputes it on the server. */
import { useMutation, useQuery } from '@tanstack/react-query';
import { api } from '../api.ts';
import { ErrorNote, Time } from '../ui/format.tsx';
import { useSearchParams } from '../ui/use-search-params.ts';

interface AuditEntry {
  seq: string;
  at: string;
  actor: string;
  action: string;
  objectType: string;
  objectId: string;
  summary: Record<string, unknown>;
  hash: string;
}

type Verdict = { ok: true; rows: number; head: string } | { ok: false; rows: number; seq: string; message: string };

export default function Audit() {
  const [params, setParams] = useSearchParams();
  const actor = params.get('actor') ?? '';
  const entries = useQuery({
    queryKey: ['audit', actor],
    queryFn: () =>
      api<{ items: AuditEntry[] }>(
        'GET',
        `/api/v1/audit?limit=200${actor ? `&actor=${encodeURIComponent(actor)}` : ''}`,
      ),
  });
  const verify = useMutation({ mutationFn: () => api<Verdict>('POST', '/api/v1/audit/verify') });
  const items = [...(entries.data?.items ?? [])].sort((a, b) => Number(b.seq) - Number(a.seq));
  return (
    <section>
      <h1>Audit log</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setParams({ actor: String(new FormData(e.currentTarget).get('actor') ?? '').trim() });
        }}
      >
        <label>
          actor
          <input name="actor" defaultValue={actor} />
        </label>
        <button type="submit">Filter</button>
        <button type="button" className="secondary" onClick={() => verify.mutate()} disabled={verify.isPending}>
          Verify chain
        </button>
      </form>
      {verify.data && (
        <p role="status" className={verify.data.ok ? 'ok' : 'error'}>
          {verify.data.ok
            ? `✔ Chain intact: ${verify.data.rows} entries, head ${verify.data.head.slice(0, 16)}…`
            : `✖ Chain broken at entry ${verify.data.seq}: ${verify.data.message}`}
        </p>
      )}
      {verify.isError && <ErrorNote error={verify.error} doing="verify the chain" />}
      {entries.isError && <ErrorNote error={entries.error} doing="load the audit log" />}
      {items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">when</th>
              <th scope="col">actor</th>
              <th scope="col">action</th>
              <th scope="col">object</th>
              <th scope="col">summary</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.seq}>
                <td>{e.seq}</td>
                <td>
                  <Time at={e.at} />
                </td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>
                  {e.objectType} <code>{e.objectId}</code>
                </td>
                <td>
                  <code className="summary">{JSON.stringify(e.summary)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
