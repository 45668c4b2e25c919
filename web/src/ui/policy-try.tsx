/**
 * "Try against an artifact": pick a project, application and one of its artifacts (and optionally the source and
 * target environments); the editor's draft conditions are evaluated against that artifact's real values (its scan,
 * SBOM, signature, labels, build), each condition with its result. Nothing is saved. Admins only (the server says
 * so too).
 */
import { useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { Artifact, PolicyEvaluation } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { signatures } from './artifact-facts.ts';
import { ErrorNote } from './format.tsx';
import { Gated } from './gated.tsx';
import { ProjectAppPicker } from './project-app-picker.tsx';

/** The artifact as the sample values the evaluate endpoint takes (the variables a promotion would see). */
export function sampleOf(a: Artifact, source: string, target: string, user: string) {
  return {
    image: {
      repository: a.repository,
      tag: a.tag ?? '',
      digest: a.digest,
      labels: a.labels,
      annotations: a.annotations,
      ...(a.created ? { created: a.created } : {}),
      platforms: a.platforms,
    },
    build: {
      ...(a.build.branch ? { branch: a.build.branch } : {}),
      ...(a.build.commit ? { commit: a.build.commit } : {}),
      ...(a.build.builder ? { builder: a.build.builder } : {}),
      ...(a.build.ciUrl ? { ciUrl: a.build.ciUrl } : {}),
    },
    ...(a.scan
      ? { scan: { critical: a.scan.critical, high: a.scan.high, medium: a.scan.medium, low: a.scan.low } }
      : {}),
    ...(a.sbom ? { sbom: { licenses: a.sbom.licenses, components: a.sbom.components } } : {}),
    signaturePresent: signatures(a) > 0,
    ...(source ? { source } : {}),
    ...(target ? { target } : {}),
    user,
  };
}

export function TryPolicy(props: { policy: string; passConditions: string[]; failConditions: string[] }) {
  const me = useSignedIn();
  const [project, setProject] = useState('');
  const [app, setApp] = useState('');
  const [digest, setDigest] = useState('');
  const artifacts = useQuery({
    queryKey: ['artifacts', project, app],
    queryFn: () =>
      api<{ items: Artifact[] }>(
        'GET',
        `/api/v1/projects/${encodeURIComponent(project)}/applications/${encodeURIComponent(app)}/artifacts`,
      ),
    enabled: project !== '' && app !== '',
  });
  const evaluate = useMutation({
    mutationFn: (v: { artifact: Artifact; source: string; target: string }) =>
      api<PolicyEvaluation>('POST', `/api/v1/policies/${encodeURIComponent(props.policy)}/evaluate`, {
        input: sampleOf(v.artifact, v.source, v.target, me.username),
        passConditions: props.passConditions,
        failConditions: props.failConditions,
      }),
  });
  const chosen = artifacts.data?.items.find((a) => a.digest === digest);
  const [source, setSource] = useState('');
  const [target, setTarget] = useState('');

  return (
    <section aria-labelledby="try">
      <h2 id="try">Try against an artifact</h2>
      <div className="filters">
        <ProjectAppPicker
          project={project}
          app={app}
          onProject={(p) => (setProject(p), setApp(''), setDigest(''))}
          onApp={(x) => (setApp(x), setDigest(''))}
        />
        <label>
          Artifact
          <select value={digest} onChange={(e) => setDigest(e.target.value)} disabled={app === ''}>
            <option value="">choose…</option>
            {artifacts.data?.items.map((a) => (
              <option key={a.digest} value={a.digest}>
                {a.digest.slice(0, 19)}
                {a.tag ? ` :${a.tag}` : ''}
              </option>
            ))}
          </select>
        </label>
        <label>
          From (source)
          <input value={source} onChange={(e) => setSource(e.target.value)} size={10} />
        </label>
        <label>
          To (target)
          <input value={target} onChange={(e) => setTarget(e.target.value)} size={10} />
        </label>
        <Gated
          needs={me.isAdmin ? null : 'the admin role'}
          disabled={!chosen || evaluate.isPending}
          onClick={() => chosen && evaluate.mutate({ artifact: chosen, source, target })}
        >
          Evaluate the draft
        </Gated>
      </div>
      {artifacts.data && artifacts.data.items.length === 0 && (
        <p className="muted">
          {app} has no artifacts yet: register one (hoist artifact register) to try the policy on it.
        </p>
      )}
      {evaluate.isError && <ErrorNote error={evaluate.error} doing="evaluate the policy" />}
      {evaluate.data && (
        <div role="status">
          <p className={evaluate.data.allowed ? 'ok' : 'error'}>
            <span aria-hidden="true">{evaluate.data.allowed ? '✔ ' : '✖ '}</span>
            {evaluate.data.allowed ? 'Allowed' : `Denied: ${evaluate.data.reasons.join('; ')}`}
          </p>
          <table>
            <caption className="visually-hidden">Each condition's result</caption>
            <thead>
              <tr>
                <th scope="col">kind</th>
                <th scope="col">condition</th>
                <th scope="col">result</th>
              </tr>
            </thead>
            <tbody>
              {evaluate.data.conditions.map((c, i) => (
                <tr key={i}>
                  <td>{c.kind}</td>
                  <td>
                    <code>{c.expression}</code>
                  </td>
                  <td>{c.result === 'error' ? `error: ${c.error ?? ''}` : String(c.result)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
