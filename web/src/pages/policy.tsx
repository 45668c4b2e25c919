/**
 * One policy: an editor for its next version (conditions checked by the server as you type, with line:column; the
 * variable catalogue beside it), a preview of what saving would do to the requests waiting under it before anything
 * is saved, trying the draft against a real artifact, where it applies, and its versions with a diff between each
 * and the one before (the version shown lives in the URL). Writes are for admins; others see why they cannot.
 */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import type { AffectedTarget, Policy, PolicyVariable } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { ErrorNote, State, Time } from '../ui/format.tsx';
import { Gated } from '../ui/gated.tsx';
import { lineDiff } from '../ui/line-diff.ts';
import { ApplyPolicy } from '../ui/policy-apply.tsx';
import { bodyOf, draftOf, FLAGS, lines, useConditionProblems, type Draft } from '../ui/policy-draft.ts';
import { TryPolicy } from '../ui/policy-try.tsx';
import { useSearchParams } from '../ui/use-search-params.ts';

export default function PolicyPage({ name }: { name: string }) {
  const path = `/api/v1/policies/${encodeURIComponent(name)}`;
  const policy = useQuery({ queryKey: ['policy', name, 'current'], queryFn: () => api<Policy>('GET', path) });
  if (policy.isPending) return <p className="loading">Loading…</p>;
  if (policy.isError)
    return (
      <section>
        <h1>Policy {name}</h1>
        <ErrorNote error={policy.error} doing="load the policy" />
        <p>
          See all <Link href="/policies">policies</Link>.
        </p>
      </section>
    );
  const p = policy.data;
  return (
    <section>
      <p className="crumbs">
        <Link href="/policies">Policies</Link> / {p.name}
      </p>
      <h1>
        Policy {p.name} <span className="muted">v{p.version}</span>
      </h1>
      <p className="muted">
        Changed <Time at={p.updatedAt} />. {p.description}
      </p>
      <Editor key={p.version} policy={p} />
      <ApplyPolicy policy={p} />
      <Versions policy={p} />
    </section>
  );
}

function Editor({ policy }: { policy: Policy }) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const [draft, setDraft] = useState<Draft>(() => draftOf(policy));
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => {
    setDraft((d) => ({ ...d, [k]: v }));
    preview.reset();
  };
  const pass = useConditionProblems(draft.pass);
  const fail = useConditionProblems(draft.fail);
  const variables = useQuery({
    queryKey: ['policy-variables'],
    queryFn: () => api<{ items: PolicyVariable[] }>('GET', '/api/v1/policy-variables'),
    staleTime: Infinity,
  });
  const path = `/api/v1/policies/${encodeURIComponent(policy.name)}`;
  const preview = useMutation({
    mutationFn: () => api<{ targets: AffectedTarget[] }>('POST', `${path}/preview`, bodyOf(draft)),
  });
  const save = useMutation({
    mutationFn: () => api<Policy>('PUT', path, bodyOf(draft)),
    onSuccess: (p) => {
      qc.setQueryData(['policy', policy.name, 'current'], p);
      void qc.invalidateQueries({ queryKey: ['policies'] });
      void qc.invalidateQueries({ queryKey: ['promotions'] });
    },
  });
  const unchanged = JSON.stringify(bodyOf(draft)) === JSON.stringify(bodyOf(draftOf(policy)));
  const problems = [
    ...pass.problems.map((x) => ({ ...x, field: 'pass conditions' })),
    ...fail.problems.map((x) => ({ ...x, field: 'fail conditions' })),
  ];

  return (
    <section aria-labelledby="edit" className="editor">
      <h2 id="edit">Edit (the next version)</h2>
      <div className="editor-grid">
        <form onSubmit={(e) => e.preventDefault()} className="editor-form">
          <label>
            Description
            <input value={draft.description} onChange={(e) => set('description', e.target.value)} />
          </label>
          <label>
            Approvals needed
            <input
              type="number"
              min={0}
              max={6}
              value={draft.approverCount}
              onChange={(e) => set('approverCount', Number(e.target.value))}
            />
          </label>
          {(
            [
              ['pass', 'Pass conditions (one CEL expression per line; all must be true)', pass],
              ['fail', 'Fail conditions (one per line; any true denies)', fail],
            ] as const
          ).map(([field, label, checked]) => (
            <label key={field}>
              {label}
              <textarea
                rows={4}
                spellCheck={false}
                className="code"
                value={draft[field]}
                onChange={(e) => set(field, e.target.value)}
                aria-invalid={checked.problems.length > 0}
                aria-describedby="condition-problems"
              />
            </label>
          ))}
          <div id="condition-problems" role="status" aria-live="polite">
            {problems.length > 0 ? (
              <ul className="problems">
                {problems.map((x) => (
                  <li key={`${x.field}:${x.line}`} className="error">
                    <span aria-hidden="true">✖ </span>
                    {x.field}, line {x.line}
                    {x.column !== null ? `:${x.column}` : ''}: {x.message}
                  </li>
                ))}
              </ul>
            ) : pass.checking || fail.checking ? (
              <p className="muted">Checking…</p>
            ) : (
              <p className="ok">
                <span aria-hidden="true">✔ </span>Every condition compiles.
              </p>
            )}
          </div>
          <fieldset>
            <legend>Separation of duties</legend>
            {FLAGS.map(([k, label]) => (
              <label key={k} className="inline">
                <input type="checkbox" checked={draft[k]} onChange={(e) => set(k, e.target.checked)} /> {label}
              </label>
            ))}
          </fieldset>
          <div className="actions">
            <Gated
              needs={me.isAdmin ? null : 'the admin role'}
              disabled={unchanged || problems.length > 0 || preview.isPending}
              onClick={() => preview.mutate()}
            >
              Review and save…
            </Gated>
            {unchanged && <span className="muted">Nothing changed yet.</span>}
          </div>
          {preview.isError && <ErrorNote error={preview.error} doing="preview the change" />}
          {save.isError && <ErrorNote error={save.error} doing="save the policy" />}
          {preview.data && !save.isSuccess && (
            <div className="decision" role="region" aria-label="What saving will do">
              <h3>What saving will do to waiting requests</h3>
              {preview.data.targets.length === 0 ? (
                <p>No request waits under this policy: saving changes nothing that waits.</p>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">request</th>
                      <th scope="col">now</th>
                      <th scope="col">after saving</th>
                      <th scope="col">why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {preview.data.targets.map((t) => (
                      <tr key={`${t.request}/${t.environment}`}>
                        <td>
                          <Link
                            href={`/projects/${encodeURIComponent(t.project)}/promotions/${encodeURIComponent(t.request)}`}
                          >
                            {t.project}/{t.application} → {t.environment}
                          </Link>
                        </td>
                        <td>
                          <State state={t.before} />
                        </td>
                        <td>
                          <State state={t.after} />
                        </td>
                        <td>{t.reason ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <div className="actions">
                <button type="button" disabled={save.isPending} onClick={() => save.mutate()}>
                  Save as version {policy.version + 1}
                </button>
                <button type="button" className="secondary" onClick={() => preview.reset()}>
                  Keep editing
                </button>
              </div>
            </div>
          )}
        </form>
        <details className="catalogue" open>
          <summary>Variables ({variables.data?.items.length ?? '…'})</summary>
          {variables.isError && <ErrorNote error={variables.error} doing="load the variable catalogue" />}
          <dl>
            {variables.data?.items.map((v) => (
              <div key={v.name}>
                <dt>
                  <code>{v.name}</code> <span className="muted">{v.type}</span>
                </dt>
                <dd>
                  {v.description} <span className="muted">e.g.</span> <code>{v.example}</code>
                </dd>
              </div>
            ))}
          </dl>
        </details>
      </div>
      <TryPolicy policy={policy.name} passConditions={lines(draft.pass)} failConditions={lines(draft.fail)} />
    </section>
  );
}

function Versions({ policy }: { policy: Policy }) {
  const [params, setParams] = useSearchParams();
  const shown = Math.min(Math.max(Number(params.get('v') ?? policy.version) || policy.version, 1), policy.version);
  const path = `/api/v1/policies/${encodeURIComponent(policy.name)}`;
  const at = (v: number) => ({
    queryKey: ['policy', policy.name, v],
    queryFn: () => api<Policy>('GET', `${path}?version=${v}`),
    staleTime: Infinity,
    enabled: v >= 1,
  });
  const now = useQuery(at(shown));
  const before = useQuery(at(shown - 1));
  const versions = Array.from({ length: policy.version }, (_, i) => policy.version - i);
  return (
    <section aria-labelledby="versions">
      <h2 id="versions">Versions</h2>
      <ul className="inline-list">
        {versions.map((v) => (
          <li key={v}>
            <button
              type="button"
              className="secondary"
              aria-pressed={v === shown}
              onClick={() => setParams({ v: String(v) })}
            >
              v{v}
              {v === policy.version ? ' (current)' : ''}
            </button>
          </li>
        ))}
      </ul>
      {now.isError && <ErrorNote error={now.error} doing={`load version ${shown}`} />}
      {now.data && shown === 1 && <p className="muted">Version 1 is the first: nothing before it to compare.</p>}
      {now.data && before.data && <VersionDiff a={before.data} b={now.data} />}
    </section>
  );
}

function VersionDiff({ a, b }: { a: Policy; b: Policy }) {
  const fields = (p: Policy) => [
    `description: ${p.description}`,
    `approvals needed: ${p.approverCount}`,
    ...FLAGS.map(([k]) => `${k}: ${String(p[k])}`),
    ...p.passConditions.map((c) => `pass: ${c}`),
    ...p.failConditions.map((c) => `fail: ${c}`),
  ];
  const diff = lineDiff(fields(a), fields(b));
  return (
    <figure>
      <figcaption>
        v{a.version} → v{b.version}
      </figcaption>
      <pre className="diff" aria-label={`Changes from version ${a.version} to ${b.version}`}>
        {diff.map((d, i) => (
          <div key={i} className={`diff-${d.kind}`}>
            {d.kind === 'added' ? '+ added   ' : d.kind === 'removed' ? '− removed ' : '          '}
            {d.text}
          </div>
        ))}
      </pre>
    </figure>
  );
}
