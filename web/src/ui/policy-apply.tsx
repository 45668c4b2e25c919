/**
 * Where a policy applies (application × environment) and, for admins, applying it somewhere else or removing it.
 * Removing makes the requests waiting under it there STALE (they must be requested again); the button says so.
 */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { ApplicationEnvironment, Environment, Policy } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { ErrorNote } from './format.tsx';
import { Gated } from './gated.tsx';

export function ApplyPolicy({ policy }: { policy: Policy }) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const [project, setProject] = useState('');
  const [app, setApp] = useState('');
  const [env, setEnv] = useState('');
  const needs = me.isAdmin ? null : 'the admin role';
  const projects = useQuery({
    queryKey: ['projects'],
    queryFn: () => api<{ items: Array<{ name: string }> }>('GET', '/api/v1/projects?limit=1000'),
  });
  const apps = useQuery({
    queryKey: ['applications', project],
    queryFn: () => api<{ items: string[] }>('GET', `/api/v1/projects/${encodeURIComponent(project)}/applications`),
    enabled: project !== '',
  });
  const envs = useQuery({
    queryKey: ['environments', project],
    queryFn: () => api<{ items: Environment[] }>('GET', `/api/v1/projects/${encodeURIComponent(project)}/environments`),
    enabled: project !== '',
  });
  const change = useMutation({
    mutationFn: (v: { op: 'apply' | 'unapply'; at: ApplicationEnvironment }) =>
      api<Policy>('POST', `/api/v1/policies/${encodeURIComponent(policy.name)}/${v.op}`, {
        applicationEnvironments: [v.at],
      }),
    onSuccess: (p) => {
      qc.setQueryData(['policy', policy.name, 'current'], p);
      void qc.invalidateQueries({ queryKey: ['policies'] });
    },
  });

  return (
    <section aria-labelledby="applies">
      <h2 id="applies">Applies to</h2>
      {policy.appliesTo.length === 0 ? (
        <p>It applies nowhere yet: choose an application and an environment below.</p>
      ) : (
        <ul>
          {policy.appliesTo.map((b) => (
            <li key={`${b.project}/${b.application}/${b.environment}`}>
              {b.project} / {b.application} → {b.environment}{' '}
              <Gated
                className="secondary"
                needs={needs}
                disabled={change.isPending}
                onClick={() => change.mutate({ op: 'unapply', at: b })}
                aria-label={`Remove from ${b.project}/${b.application} → ${b.environment} (waiting requests there turn stale)`}
              >
                Remove
              </Gated>
            </li>
          ))}
        </ul>
      )}
      <div className="filters">
        <label>
          Project
          <select value={project} onChange={(e) => (setProject(e.target.value), setApp(''), setEnv(''))}>
            <option value="">choose…</option>
            {projects.data?.items.map((p) => (
              <option key={p.name}>{p.name}</option>
            ))}
          </select>
        </label>
        <label>
          Application
          <select value={app} onChange={(e) => setApp(e.target.value)} disabled={project === ''}>
            <option value="">choose…</option>
            {apps.data?.items.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          Environment
          <select value={env} onChange={(e) => setEnv(e.target.value)} disabled={project === ''}>
            <option value="">choose…</option>
            {[...(envs.data?.items ?? [])]
              .sort((a, b) => a.position - b.position)
              .map((e) => (
                <option key={e.name}>{e.name}</option>
              ))}
          </select>
        </label>
        <Gated
          needs={needs}
          disabled={!project || !app || !env || change.isPending}
          onClick={() => change.mutate({ op: 'apply', at: { project, application: app, environment: env } })}
        >
          Apply
        </Gated>
      </div>
      {change.isError && <ErrorNote error={change.error} doing="change where the policy applies" />}
    </section>
  );
}
