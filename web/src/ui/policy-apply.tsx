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
import { ProjectAppPicker } from './project-app-picker.tsx';

export function ApplyPolicy({ policy }: { policy: Policy }) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const [project, setProject] = useState('');
  const [app, setApp] = useState('');
  const [env, setEnv] = useState('');
  const needs = me.isAdmin ? null : 'the admin role';
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
        <ProjectAppPicker
          project={project}
          app={app}
          onProject={(p) => (setProject(p), setApp(''), setEnv(''))}
          onApp={setApp}
        />
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
