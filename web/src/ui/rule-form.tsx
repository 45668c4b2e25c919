/**
 * A new auto-promotion rule: application (or all), from → to, DTR-style criteria (tag, vulnerabilities, signature)
 * and/or raw CEL, a tag template, the mode. "Dry-run" shows the CEL the criteria compile to, which artifacts now in the
 * source environment it would match and the tag each would be promoted under; nothing is saved until "Create rule".
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { Rule, RuleDryRun } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { Digest, ErrorNote } from './format.tsx';
import { Gated } from './gated.tsx';
import { needsRole } from './roles.ts';

interface RuleFields {
  name: string;
  application: string;
  from: string;
  to: string;
  tagOp: string;
  tagValue: string;
  maxCritical: string;
  signed: boolean;
  cel: string;
  tagTemplate: string;
  mode: 'promote' | 'request';
}

export function ruleBody(f: RuleFields) {
  const criteria: unknown[] = [];
  if (f.tagValue.trim() !== '') criteria.push({ field: 'tag', op: f.tagOp, value: f.tagValue.trim() });
  if (f.maxCritical.trim() !== '')
    criteria.push({ field: 'vulnerabilities', severity: 'critical', op: '<=', value: Number(f.maxCritical) });
  if (f.signed) criteria.push({ field: 'signature', op: 'present' });
  return {
    name: f.name.trim(),
    ...(f.application ? { application: f.application } : {}),
    from: f.from,
    to: f.to,
    criteria,
    ...(f.cel.trim() ? { cel: f.cel.trim() } : {}),
    ...(f.tagTemplate.trim() ? { tagTemplate: f.tagTemplate.trim() } : {}),
    mode: f.mode,
  };
}

export function RuleForm(props: { project: string; applications: string[]; environments: string[] }) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const [fields, setFields] = useState<RuleFields>({
    name: '',
    application: '',
    from: props.environments[0] ?? '',
    to: props.environments[1] ?? '',
    tagOp: 'startsWith',
    tagValue: '',
    maxCritical: '',
    signed: false,
    cel: '',
    tagTemplate: '',
    mode: 'promote',
  });
  const base = `/api/v1/projects/${encodeURIComponent(props.project)}/rules`;
  const dryRun = useMutation({
    mutationFn: () => api<RuleDryRun>('POST', `${base}/dry-run`, ruleBody(fields)),
  });
  const create = useMutation({
    mutationFn: () => api<Rule>('POST', base, ruleBody(fields)),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['rules', props.project] });
      dryRun.reset();
    },
  });
  const set = <K extends keyof RuleFields>(k: K, v: RuleFields[K]) => {
    setFields((f) => ({ ...f, [k]: v }));
    dryRun.reset();
    create.reset();
  };
  const dryNeeds = needsRole(me, props.project, ['owner']);
  const createNeeds = needsRole(me, props.project, ['owner'], fields.to || undefined);
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    create.mutate();
  }
  const envOptions = props.environments.map((e) => <option key={e}>{e}</option>);

  return (
    <form className="rule-form" onSubmit={submit} aria-labelledby="new-rule">
      <h3 id="new-rule">New rule</h3>
      <div className="filters">
        <label>
          Name
          <input value={fields.name} onChange={(e) => set('name', e.target.value)} required maxLength={63} />
        </label>
        <label>
          Application
          <select value={fields.application} onChange={(e) => set('application', e.target.value)}>
            <option value="">every application</option>
            {props.applications.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          From
          <select value={fields.from} onChange={(e) => set('from', e.target.value)}>
            {envOptions}
          </select>
        </label>
        <label>
          To
          <select value={fields.to} onChange={(e) => set('to', e.target.value)}>
            {envOptions}
          </select>
        </label>
        <label>
          Mode
          <select value={fields.mode} onChange={(e) => set('mode', e.target.value as 'promote' | 'request')}>
            <option value="promote">promote (no approval unless a policy asks)</option>
            <option value="request">request (opens a request)</option>
          </select>
        </label>
      </div>
      <fieldset>
        <legend>Criteria (all must match)</legend>
        <div className="filters">
          <label>
            Tag test
            <select value={fields.tagOp} onChange={(e) => set('tagOp', e.target.value)}>
              {['equals', 'startsWith', 'endsWith', 'contains', 'matches'].map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </label>
          <label>
            Tag value
            <input value={fields.tagValue} onChange={(e) => set('tagValue', e.target.value)} placeholder="v" />
          </label>
          <label>
            At most critical vulnerabilities
            <input
              type="number"
              min={0}
              value={fields.maxCritical}
              onChange={(e) => set('maxCritical', e.target.value)}
            />
          </label>
          <label className="inline">
            <input type="checkbox" checked={fields.signed} onChange={(e) => set('signed', e.target.checked)} /> signed
          </label>
        </div>
        <label>
          And CEL (optional)
          <input className="code" value={fields.cel} onChange={(e) => set('cel', e.target.value)} />
        </label>
      </fieldset>
      <label>
        Tag template (optional: %n source tag, {'{tag} {env} {app} {shortDigest}'}, strftime %Y%m%d…)
        <input className="code" value={fields.tagTemplate} onChange={(e) => set('tagTemplate', e.target.value)} />
      </label>
      <div className="actions">
        <Gated needs={dryNeeds} disabled={dryRun.isPending || !fields.name} onClick={() => dryRun.mutate()}>
          Dry-run
        </Gated>
        <Gated type="submit" needs={createNeeds} disabled={create.isPending}>
          Create rule
        </Gated>
      </div>
      {dryRun.isError && <ErrorNote error={dryRun.error} doing="dry-run the rule" />}
      {create.isError && <ErrorNote error={create.error} doing="create the rule" />}
      {create.isSuccess && (
        <p role="status" className="ok">
          <span aria-hidden="true">✔ </span>Rule {create.data.name} created.
        </p>
      )}
      {dryRun.data && (
        <div role="region" aria-label="Dry-run result">
          <p>
            Compiles to <code>{dryRun.data.expression}</code>
          </p>
          {dryRun.data.artifacts.length === 0 ? (
            <p className="muted">Nothing is in {fields.from} now, so nothing would match yet.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">artifact</th>
                  <th scope="col">tag in {fields.from}</th>
                  <th scope="col">matches</th>
                  <th scope="col">would be promoted as</th>
                </tr>
              </thead>
              <tbody>
                {dryRun.data.artifacts.map((a) => (
                  <tr key={`${a.application}/${a.digest}`}>
                    <td>
                      {a.application} <Digest value={a.digest} />
                    </td>
                    <td>{a.tag ?? '—'}</td>
                    <td>{a.matches ? '✔ matches' : a.error ? `✖ error: ${a.error}` : '✖ no match'}</td>
                    <td>
                      {a.targetTag ? (
                        <code>:{a.targetTag}</code>
                      ) : a.tagError ? (
                        <span className="error">{a.tagError}</span>
                      ) : (
                        '—'
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </form>
  );
}
