/**
 * One digest's page: what it is (digest, tags, repository, platforms, build, signatures, SBOM, scan counts,
 * licences), its journey across environments (registered, promoted by whom with which approvals under which policy
 * version, refused, still waiting) with the time it spent in each, and how to pull it by digest from each
 * environment. Actions: promote (the shared dialog with its preview), compare, quarantine (admins).
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import { usePollInterval } from '../live.ts';
import { FINAL, type Promotion } from '../promotion-types.ts';
import type { Artifact, Edge, Environment, HistoryEntry, Registry } from '../schemas.ts';
import { roleIn, useSignedIn } from '../session.tsx';
import { duration, journey, signatures, stays, type JourneyStep } from '../ui/artifact-facts.ts';
import { CopyText } from '../ui/copy-text.tsx';
import { byteSize, Digest, ErrorNote, State, Time, useNow } from '../ui/format.tsx';
import { Gated } from '../ui/gated.tsx';
import { PromoteDialog } from '../ui/promote-dialog.tsx';

const REQUESTERS = ['admin', 'owner', 'promoter', 'developer'];

export function useProjectShape(project: string) {
  const base = `/api/v1/projects/${encodeURIComponent(project)}`;
  const envs = useQuery({
    queryKey: ['environments', project],
    queryFn: () => api<{ items: Environment[] }>('GET', `${base}/environments`),
  });
  const pipeline = useQuery({
    queryKey: ['pipeline', project],
    queryFn: () => api<{ edges: Edge[] }>('GET', `${base}/pipeline`),
  });
  const ordered = [...(envs.data?.items ?? [])].sort((a, b) => a.position - b.position);
  return { envs, pipeline, ordered, edges: pipeline.data?.edges ?? [] };
}

export default function ArtifactPage({ project, app, digest }: { project: string; app: string; digest: string }) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const now = useNow(30_000);
  const poll = usePollInterval(5000);
  const appPath = `/api/v1/projects/${encodeURIComponent(project)}/applications/${encodeURIComponent(app)}`;
  const artifact = useQuery({
    queryKey: ['artifacts', project, app, digest],
    queryFn: () => api<Artifact>('GET', `${appPath}/artifacts/${encodeURIComponent(digest)}`),
    refetchInterval: poll,
  });
  const all = useQuery({
    queryKey: ['artifacts', project, app, 'all'],
    queryFn: () => api<{ items: Artifact[] }>('GET', `${appPath}/artifacts?limit=1000`),
    refetchInterval: poll,
  });
  const history = useQuery({
    queryKey: ['history', project, `app=${app}&digest=${digest}`],
    queryFn: () =>
      api<{ items: HistoryEntry[] }>(
        'GET',
        `/api/v1/projects/${encodeURIComponent(project)}/history?${new URLSearchParams({ app, digest, limit: '1000' })}`,
      ),
    refetchInterval: poll,
  });
  const open = useQuery({
    queryKey: ['promotions', project, 'open'],
    queryFn: () =>
      api<{ items: Promotion[] }>('GET', `/api/v1/projects/${encodeURIComponent(project)}/promotions?limit=200`),
    refetchInterval: poll,
  });
  const registries = useQuery({
    queryKey: ['registries'],
    queryFn: () => api<{ items: Registry[] }>('GET', '/api/v1/registries?limit=1000'),
  });
  const shape = useProjectShape(project);
  const [promoting, setPromoting] = useState(false);
  const [quarantining, setQuarantining] = useState(false);
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ['artifacts', project] });
    void qc.invalidateQueries({ queryKey: ['quarantine'] });
  };
  const quarantine = useMutation({
    mutationFn: (reason: string) => api('POST', '/api/v1/quarantine', { digest, reason }),
    onSuccess: () => {
      setQuarantining(false);
      refresh();
    },
  });
  const lift = useMutation({
    mutationFn: () => api('DELETE', `/api/v1/quarantine/${encodeURIComponent(digest)}`),
    onSuccess: refresh,
  });

  if (artifact.isPending) return <p className="loading">Loading…</p>;
  if (artifact.isError)
    return (
      <section>
        <h1>Artifact of {app}</h1>
        <ErrorNote error={artifact.error} doing="load the artifact" />
        <p>
          Check the digest in the address, or go back to the{' '}
          <Link href={`/projects/${encodeURIComponent(project)}`}>board</Link>.
        </p>
      </section>
    );
  const a = artifact.data;
  const role = roleIn(me, project);
  const mayRequest = role !== null && REQUESTERS.includes(role);
  const openForMe = (open.data?.items ?? []).filter(
    (p) => p.application === app && p.digest === digest && p.targets.some((t) => !FINAL.includes(t.state)),
  );
  const steps = journey(a, history.data?.items ?? [], openForMe);
  const where = stays(a, all.data?.items ?? [a]);
  const envByName = new Map(shape.ordered.map((e) => [e.name, e]));
  const hostOf = new Map((registries.data?.items ?? []).map((r) => [r.name, r.url]));
  const sources = shape.ordered.map((e) => e.name).filter((e) => a.environments.some((x) => x.environment === e));
  const nextEnv = sources.length > 0 ? shape.edges.find((e) => e.from === sources[sources.length - 1])?.to : undefined;
  const signed = signatures(a);

  function submitQuarantine(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    quarantine.mutate(String(new FormData(e.currentTarget).get('reason') ?? ''));
  }

  return (
    <section>
      <p className="crumbs">
        <Link href={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / {app}
      </p>
      <h1>
        {app} {a.tag ? `:${a.tag}` : ''}
      </h1>
      <p>
        <Digest value={a.digest} full />
      </p>
      {a.quarantine && (
        <p className="error" role="status">
          <span aria-hidden="true">⚠ </span>Quarantined by {a.quarantine.by} <Time at={a.quarantine.at} />:{' '}
          {a.quarantine.reason}. It cannot be promoted anywhere.
        </p>
      )}
      <div className="actions">
        <Gated
          needs={
            mayRequest
              ? sources.length === 0
                ? 'an environment that holds it'
                : null
              : 'the developer, promoter or owner role'
          }
          onClick={() => setPromoting(true)}
          disabled={a.quarantine !== null}
        >
          Promote…
        </Gated>
        {nextEnv && sources.length > 0 && (
          <Link
            href={`/projects/${encodeURIComponent(project)}/apps/${encodeURIComponent(app)}/compare?${new URLSearchParams({ a: `env:${sources[sources.length - 1]}`, b: `env:${nextEnv}` })}`}
          >
            Compare {sources[sources.length - 1]} with {nextEnv}
          </Link>
        )}
        {a.quarantine ? (
          <Gated needs={me.isAdmin ? null : 'the admin role'} onClick={() => lift.mutate()} disabled={lift.isPending}>
            Lift quarantine
          </Gated>
        ) : (
          <Gated needs={me.isAdmin ? null : 'the admin role'} onClick={() => setQuarantining(true)}>
            Quarantine…
          </Gated>
        )}
      </div>
      {(quarantine.isError || lift.isError) && (
        <ErrorNote
          error={quarantine.error ?? lift.error}
          doing={quarantine.isError ? 'quarantine' : 'lift the quarantine'}
        />
      )}
      {quarantining && (
        <form className="decision" onSubmit={submitQuarantine} aria-label="Quarantine form">
          <p>
            A quarantined digest is promoted nowhere, and open requests for it are rejected. Say why, for the audit log.
          </p>
          <label>
            Reason (required)
            <textarea name="reason" required rows={2} />
          </label>
          <div className="actions">
            <button type="submit" disabled={quarantine.isPending}>
              Quarantine this digest
            </button>
            <button type="button" className="secondary" onClick={() => setQuarantining(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}

      <div className="columns">
        <section aria-labelledby="identity">
          <h2 id="identity">Identity</h2>
          <dl className="facts">
            <dt>repository</dt>
            <dd>
              <code>
                {hostOf.get(a.registry) ?? a.registry}/{a.repository}
              </code>
            </dd>
            <dt>tags</dt>
            <dd>
              {a.tags.length > 0
                ? a.tags.map((t) => (
                    <code key={t} className="chip">
                      {t}
                    </code>
                  ))
                : '—'}
            </dd>
            <dt>created</dt>
            <dd>{a.created ? <Time at={a.created} /> : 'unknown'}</dd>
            <dt>registered</dt>
            <dd>
              by {a.registeredBy} <Time at={a.registeredAt} />
            </dd>
            <dt>platforms</dt>
            <dd>{a.platforms.length > 0 ? a.platforms.join(', ') : 'not stated'}</dd>
            <dt>size</dt>
            <dd>{byteSize(a.size)}</dd>
          </dl>
        </section>
        <section aria-labelledby="build">
          <h2 id="build">Build</h2>
          <dl className="facts">
            <dt>branch</dt>
            <dd>{a.build.branch ?? '—'}</dd>
            <dt>commit</dt>
            <dd>{a.build.commit ? <code>{a.build.commit}</code> : '—'}</dd>
            <dt>builder</dt>
            <dd>{a.build.builder ?? '—'}</dd>
            <dt>CI run</dt>
            <dd>{a.build.ciUrl ? <a href={a.build.ciUrl}>{a.build.ciUrl}</a> : '—'}</dd>
          </dl>
          {Object.keys(a.labels).length > 0 && (
            <details>
              <summary>{Object.keys(a.labels).length} labels</summary>
              <dl className="facts">
                {Object.entries(a.labels).map(([k, v]) => (
                  <div key={k}>
                    <dt>
                      <code>{k}</code>
                    </dt>
                    <dd>
                      <code>{v}</code>
                    </dd>
                  </div>
                ))}
              </dl>
            </details>
          )}
        </section>
        <section aria-labelledby="supply">
          <h2 id="supply">Signatures, SBOM, scan</h2>
          <dl className="facts">
            <dt>signatures</dt>
            <dd>{signed > 0 ? `✔ ${signed} attached` : '✖ none attached'}</dd>
            <dt>scan</dt>
            <dd>
              {a.scan
                ? `${a.scan.critical} critical, ${a.scan.high} high, ${a.scan.medium} medium, ${a.scan.low} low${a.scan.scanner ? ` (${a.scan.scanner})` : ''}`
                : 'no report attached'}
            </dd>
            <dt>SBOM</dt>
            <dd>{a.sbom ? `${a.sbom.format}: ${a.sbom.components.length} components` : 'none attached'}</dd>
            <dt>licences</dt>
            <dd>{a.sbom && a.sbom.licenses.length > 0 ? a.sbom.licenses.join(', ') : '—'}</dd>
            <dt>referrers</dt>
            <dd>{a.referrers.length}</dd>
          </dl>
        </section>
      </div>

      <section aria-labelledby="journey">
        <h2 id="journey">Journey</h2>
        <ol className="timeline">
          {steps.map((s, i) => (
            <li key={i}>
              <Step step={s} project={project} />
            </li>
          ))}
        </ol>
        {steps.length === 1 && openForMe.length === 0 && (
          <p className="muted">Not promoted yet. Promote it to send it to the next environment.</p>
        )}
      </section>

      <section aria-labelledby="where">
        <h2 id="where">Environments and pull references</h2>
        {where.length === 0 ? (
          <p>No environment of {project} holds this digest. Promote it, or push it to an environment's repository.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">environment</th>
                <th scope="col">arrived</th>
                <th scope="col">now</th>
                <th scope="col">time there</th>
                <th scope="col">pull by digest</th>
              </tr>
            </thead>
            <tbody>
              {where.map((w) => {
                const env = envByName.get(w.environment);
                const host = env ? (hostOf.get(env.registry) ?? env.registry) : a.registry;
                const repo = env ? env.repository.replaceAll('{app}', app) : a.repository;
                return (
                  <tr key={w.environment}>
                    <th scope="row">{w.environment}</th>
                    <td>
                      <Time at={w.arrived} />
                      {w.tag ? ` as :${w.tag}` : ''}
                    </td>
                    <td>
                      {w.replacedAt ? (
                        <>
                          <span aria-hidden="true">↷ </span>replaced by{' '}
                          <Link
                            href={`/projects/${encodeURIComponent(project)}/apps/${encodeURIComponent(app)}/artifacts/${encodeURIComponent(w.replacedBy ?? '')}`}
                          >
                            <code>{(w.replacedBy ?? '').slice(0, 19)}</code>
                          </Link>{' '}
                          <Time at={w.replacedAt} />
                        </>
                      ) : (
                        <span className="ok">
                          <span aria-hidden="true">✔ </span>holds it now
                        </span>
                      )}
                    </td>
                    <td>{duration(Date.parse(w.replacedAt ?? now.toISOString()) - Date.parse(w.arrived))}</td>
                    <td>
                      <CopyText value={`${host}/${repo}@${a.digest}`} label={`pull reference for ${w.environment}`} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
      {promoting && (
        <PromoteDialog
          project={project}
          app={app}
          digest={a.digest}
          tag={a.tag}
          sources={sources}
          environments={shape.ordered.map((e) => e.name)}
          edges={shape.edges}
          isAdmin={me.isAdmin}
          onClose={() => setPromoting(false)}
        />
      )}
    </section>
  );
}

function Step({ step, project }: { step: JourneyStep; project: string }) {
  const requestLink = (id: string) => `/projects/${encodeURIComponent(project)}/promotions/${encodeURIComponent(id)}`;
  switch (step.kind) {
    case 'registered':
      return (
        <>
          <span aria-hidden="true">● </span>
          <strong>Registered</strong>
          {step.environments.length > 0 ? ` in ${step.environments.join(', ')}` : ''} by {step.by} <Time at={step.at} />
        </>
      );
    case 'finished': {
      const e = step.entry;
      const approvals = e.approvals.filter((x) => x.decision === 'approve').map((x) => x.username);
      const rejected = e.approvals.filter((x) => x.decision === 'reject').map((x) => x.username);
      return (
        <>
          <State state={e.state} />{' '}
          <strong>
            {e.from} → {e.to}
          </strong>{' '}
          requested by {e.requestedBy} <Time at={e.at} />
          {step.after && (
            <span className="muted">
              {' '}
              (after {duration(step.after.ms)} in {step.after.environment})
            </span>
          )}
          <div className="muted">
            {approvals.length > 0 ? `approved by ${approvals.join(', ')}` : 'no approval needed'}
            {rejected.length > 0 && `; rejected by ${rejected.join(', ')}`}
            {e.policy ? ` · policy ${e.policy.name}@${e.policy.version}` : ' · no policy'}
            {e.reason && ` · ${e.reason}`} · <Link href={requestLink(e.request)}>request</Link>
          </div>
        </>
      );
    }
    case 'waiting':
      return (
        <>
          <State state={step.state} />{' '}
          <strong>
            {step.request.from} → {step.environment}
          </strong>{' '}
          waiting: {step.detail}, requested by {step.request.requestedBy} <Time at={step.at} /> ·{' '}
          <Link href={requestLink(step.request.id)}>open the request</Link>
        </>
      );
  }
}
