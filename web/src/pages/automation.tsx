/**
 * A project's automation: auto-promotion rules (criteria, the CEL they compile to, tag template; dry-run and create
 * in the form below), bindings (track-latest or pinned), promotion windows per environment, and, across hoist, the
 * quarantine list, recent push events and the poller's watches. Each action is disabled with the role it needs.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import type { Binding, PushEvent, Quarantine, Rule, Watch } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { Digest, ErrorNote, State, Time } from '../ui/format.tsx';
import { Gated } from '../ui/gated.tsx';
import { needsAdmin, needsRole } from '../ui/roles.ts';
import { RuleForm } from '../ui/rule-form.tsx';
import { WindowsEditor } from '../ui/windows-editor.tsx';
import { useProjectShape } from './artifact.tsx';

export default function Automation({ project }: { project: string }) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const base = `/api/v1/projects/${encodeURIComponent(project)}`;
  const shape = useProjectShape(project);
  const apps = useQuery({
    queryKey: ['applications', project],
    queryFn: () => api<{ items: string[] }>('GET', `${base}/applications`),
  });
  const rules = useQuery({
    queryKey: ['rules', project],
    queryFn: () => api<{ items: Rule[] }>('GET', `${base}/rules`),
  });
  const bindings = useQuery({
    queryKey: ['bindings', project],
    queryFn: () => api<{ items: Binding[] }>('GET', `${base}/bindings`),
  });
  const quarantine = useQuery({
    queryKey: ['quarantine'],
    queryFn: () => api<{ items: Quarantine[] }>('GET', '/api/v1/quarantine'),
  });
  const events = useQuery({
    queryKey: ['push-events'],
    queryFn: () => api<{ items: PushEvent[] }>('GET', '/api/v1/events?limit=20'),
    refetchInterval: 10_000,
  });
  const watches = useQuery({ queryKey: ['watches'], queryFn: () => api<{ items: Watch[] }>('GET', '/api/v1/watches') });
  const removeRule = useMutation({
    mutationFn: (name: string) => api('DELETE', `${base}/rules/${encodeURIComponent(name)}`),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['rules', project] }),
  });
  const unbind = useMutation({
    mutationFn: (b: Binding) =>
      api(
        'DELETE',
        `${base}/applications/${encodeURIComponent(b.application)}/bindings/${encodeURIComponent(b.environment)}`,
      ),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['bindings', project] }),
  });
  const lift = useMutation({
    mutationFn: (digest: string) => api('DELETE', `/api/v1/quarantine/${encodeURIComponent(digest)}`),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['quarantine'] }),
  });
  const envNames = shape.ordered.map((e) => e.name);

  return (
    <section>
      <p className="crumbs">
        <Link href={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / automation
      </p>
      <h1>Automation of {project}</h1>
      <nav aria-label="Sections" className="subnav">
        {['rules', 'bindings', 'windows', 'quarantine', 'events', 'watches'].map((s) => (
          <a key={s} href={`#${s}`}>
            {s}
          </a>
        ))}
      </nav>

      <section aria-labelledby="rules">
        <h2 id="rules">Rules</h2>
        {rules.isError && <ErrorNote error={rules.error} doing="load the rules" />}
        {rules.data?.items.length === 0 && (
          <p>No rules: every promotion in {project} is asked for by hand. Create one below to promote on push.</p>
        )}
        {rules.data && rules.data.items.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">rule</th>
                <th scope="col">what</th>
                <th scope="col">criteria</th>
                <th scope="col">compiled CEL</th>
                <th scope="col">tag template</th>
                <th scope="col">by</th>
                <th scope="col">actions</th>
              </tr>
            </thead>
            <tbody>
              {rules.data.items.map((r) => (
                <tr key={r.name}>
                  <th scope="row">{r.name}</th>
                  <td>
                    {r.application ?? 'every application'}: {r.from} → {r.to}, {r.mode}
                    {r.enabled ? '' : ' (disabled)'}
                  </td>
                  <td>{r.description.length > 0 ? r.description.join('; ') : 'everything'}</td>
                  <td>
                    <code>{r.expression}</code>
                  </td>
                  <td>{r.tagTemplate ? <code>{r.tagTemplate}</code> : 'the source tag'}</td>
                  <td>
                    {r.createdBy} <Time at={r.createdAt} />
                  </td>
                  <td>
                    <Gated
                      className="secondary"
                      needs={needsRole(me, project, ['owner'], r.to)}
                      onClick={() => removeRule.mutate(r.name)}
                      aria-label={`Delete rule ${r.name}`}
                    >
                      Delete
                    </Gated>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {removeRule.isError && <ErrorNote error={removeRule.error} doing="delete the rule" />}
        {envNames.length > 1 && (
          <RuleForm project={project} applications={apps.data?.items ?? []} environments={envNames} />
        )}
      </section>

      <section aria-labelledby="bindings">
        <h2 id="bindings">Bindings</h2>
        {bindings.data?.items.length === 0 && (
          <p>No bindings: environments change only by promotion. Pin or track latest from the board.</p>
        )}
        {bindings.data && bindings.data.items.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">application → environment</th>
                <th scope="col">mode</th>
                <th scope="col">holds now</th>
                <th scope="col">set by</th>
                <th scope="col">actions</th>
              </tr>
            </thead>
            <tbody>
              {bindings.data.items.map((b) => (
                <tr key={`${b.application}/${b.environment}`}>
                  <th scope="row">
                    {b.application} → {b.environment}
                  </th>
                  <td>
                    {b.mode === 'pin' ? (
                      <>
                        <span aria-hidden="true">◉ </span>pinned to{' '}
                        {b.pinnedDigest && <Digest value={b.pinnedDigest} />}
                      </>
                    ) : (
                      <>
                        <span aria-hidden="true">⟳ </span>tracks the latest good build
                      </>
                    )}
                  </td>
                  <td>{b.current ? <Digest value={b.current} /> : 'nothing yet'}</td>
                  <td>
                    {b.updatedBy} <Time at={b.updatedAt} />
                  </td>
                  <td>
                    <Gated
                      className="secondary"
                      needs={needsRole(me, project, ['owner', 'promoter'], b.environment)}
                      onClick={() => unbind.mutate(b)}
                      aria-label={`Back to manual promotions for ${b.application} in ${b.environment}`}
                    >
                      Back to manual
                    </Gated>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {(bindings.error ?? unbind.error) && (
          <ErrorNote error={bindings.error ?? unbind.error} doing="load or change the bindings" />
        )}
      </section>

      <section aria-labelledby="windows">
        <h2 id="windows">Promotion windows</h2>
        <ul className="windows">
          {shape.ordered.map((e) => (
            <WindowsEditor key={e.name} project={project} env={e} />
          ))}
        </ul>
      </section>

      <section aria-labelledby="quarantine">
        <h2 id="quarantine">Quarantine</h2>
        {quarantine.isError && <ErrorNote error={quarantine.error} doing="load the quarantine list" />}
        {quarantine.data?.items.length === 0 && (
          <p>Nothing is quarantined. An admin quarantines a digest from its artifact page.</p>
        )}
        {quarantine.data && quarantine.data.items.length > 0 && (
          <ul>
            {quarantine.data.items.map((q) => (
              <li key={q.digest}>
                <span aria-hidden="true">⚠ </span>
                <Digest value={q.digest} /> by {q.by} <Time at={q.at} />: {q.reason}{' '}
                <Gated className="secondary" needs={needsAdmin(me)} onClick={() => lift.mutate(q.digest)}>
                  Lift
                </Gated>
              </li>
            ))}
          </ul>
        )}
        {lift.isError && <ErrorNote error={lift.error} doing="lift the quarantine" />}
      </section>

      <section aria-labelledby="events">
        <h2 id="events">Recent push events</h2>
        {events.isError && <ErrorNote error={events.error} doing="load the push events" />}
        {events.data?.items.length === 0 && (
          <p>
            No push event received yet. Point a registry's notifications at /api/v1/hooks/distribution (or harbor,
            generic), or add a watch.
          </p>
        )}
        {events.data && events.data.items.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">received</th>
                <th scope="col">image</th>
                <th scope="col">state</th>
                <th scope="col">outcome</th>
              </tr>
            </thead>
            <tbody>
              {events.data.items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <Time at={e.receivedAt} /> via {e.source}
                  </td>
                  <td>
                    <code>
                      {e.registry}/{e.repository}
                      {e.tag ? `:${e.tag}` : ''}
                    </code>{' '}
                    <Digest value={e.digest} />
                  </td>
                  <td>
                    <State state={e.state} />
                  </td>
                  <td>{e.outcome ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="watches">
        <h2 id="watches">Watches</h2>
        {watches.data?.items.length === 0 && (
          <p>No watches: the poller checks no repository. An admin adds one with hoist watch add.</p>
        )}
        {watches.data && watches.data.items.length > 0 && (
          <ul>
            {watches.data.items.map((w) => (
              <li key={w.id}>
                <code>
                  {w.registry}/{w.repository}
                </code>{' '}
                every {w.intervalSeconds} s, {w.tags} tags; last checked{' '}
                {w.lastCheckedAt ? <Time at={w.lastCheckedAt} /> : 'never'}
                {w.lastResult?.error && <span className="error"> — {w.lastResult.error}</span>}; next{' '}
                <Time at={w.nextCheckAt} />
              </li>
            ))}
          </ul>
        )}
      </section>
    </section>
  );
}
