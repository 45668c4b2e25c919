/**
 * An environment's promotion windows (when promotions may enter it): each shown as days, hours and time zone, owners
 * remove one or add one. Outside every window, a promotion waits (an admin may override it, audited).
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { Environment, Window } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { ErrorNote } from './format.tsx';
import { Gated } from './gated.tsx';
import { needsRole } from './roles.ts';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export const windowText = (w: Window): string => `${w.days.join(', ')} ${w.start}–${w.end} (${w.timeZone})`;

export function WindowsEditor({ project, env }: { project: string; env: Environment }) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const [adding, setAdding] = useState(false);
  const needs = needsRole(me, project, ['owner'], env.name);
  const put = useMutation({
    mutationFn: (windows: Window[]) =>
      api(
        'PUT',
        `/api/v1/projects/${encodeURIComponent(project)}/environments/${encodeURIComponent(env.name)}/windows`,
        { windows },
      ),
    onSuccess: () => {
      setAdding(false);
      void qc.invalidateQueries({ queryKey: ['environments', project] });
    },
  });
  function add(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const w: Window = {
      days: DAYS.filter((d) => form.getAll('day').includes(d)),
      start: String(form.get('start') ?? ''),
      end: String(form.get('end') ?? ''),
      timeZone: String(form.get('timeZone') ?? 'UTC'),
    };
    put.mutate([...env.windows, w]);
  }
  return (
    <li>
      <strong>{env.name}</strong>:{' '}
      {env.windows.length === 0 ? (
        <span>always open (no window)</span>
      ) : (
        <ul>
          {env.windows.map((w, i) => (
            <li key={i}>
              {windowText(w)}{' '}
              <Gated
                className="secondary"
                needs={needs}
                aria-label={`Remove window ${windowText(w)} of ${env.name}`}
                onClick={() => put.mutate(env.windows.filter((_, k) => k !== i))}
              >
                Remove
              </Gated>
            </li>
          ))}
        </ul>
      )}{' '}
      {!adding && (
        <Gated className="secondary" needs={needs} onClick={() => setAdding(true)}>
          Add a window to {env.name}
        </Gated>
      )}
      {adding && (
        <form className="filters" onSubmit={add} aria-label={`New window for ${env.name}`}>
          <fieldset>
            <legend>Days</legend>
            {DAYS.map((d) => (
              <label key={d} className="inline">
                <input type="checkbox" name="day" value={d} defaultChecked={!['sat', 'sun'].includes(d)} /> {d}
              </label>
            ))}
          </fieldset>
          <label>
            From
            <input name="start" type="time" defaultValue="09:00" required />
          </label>
          <label>
            Until
            <input name="end" type="time" defaultValue="17:00" required />
          </label>
          <label>
            Time zone
            <input name="timeZone" defaultValue={Intl.DateTimeFormat().resolvedOptions().timeZone} required />
          </label>
          <button type="submit" disabled={put.isPending}>
            Save window
          </button>
          <button type="button" className="secondary" onClick={() => setAdding(false)}>
            Cancel
          </button>
        </form>
      )}
      {put.isError && <ErrorNote error={put.error} doing={`change the windows of ${env.name}`} />}
    </li>
  );
}
