/**
 * Who may do what in a project, and who hears about it: members with their roles (a role may be limited to some
 * environments), and webhooks with their recent deliveries. Owners change both; everyone else sees the members and
 * why they cannot change them.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import type { Delivery, Member, Webhook } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { ErrorNote, State, Time } from '../ui/format.tsx';
import { Gated } from '../ui/gated.tsx';
import { needsRole } from '../ui/roles.ts';
import { useProjectShape } from './artifact.tsx';

const ROLES = ['viewer', 'developer', 'promoter', 'owner'] as const;

export default function Access({ project }: { project: string }) {
  const me = useSignedIn();
  const needs = needsRole(me, project, ['owner']);
  return (
    <section>
      <p className="crumbs">
        <Link href={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / access
      </p>
      <h1>Access to {project}</h1>
      <Members project={project} needs={needs} />
      {needs === null ? (
        <Webhooks project={project} />
      ) : (
        <section aria-labelledby="webhooks">
          <h2 id="webhooks">Webhooks</h2>
          <p className="muted">
            Webhooks and their deliveries are shown to owners of {project} (you need {needs}).
          </p>
        </section>
      )}
    </section>
  );
}

function Members({ project, needs }: { project: string; needs: string | null }) {
  const qc = useQueryClient();
  const base = `/api/v1/projects/${encodeURIComponent(project)}/members`;
  const members = useQuery({ queryKey: ['members', project], queryFn: () => api<{ items: Member[] }>('GET', base) });
  const shape = useProjectShape(project);
  const grant = useMutation({
    mutationFn: (m: Member) => api('POST', base, m),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['members', project] }),
  });
  const revoke = useMutation({
    mutationFn: (m: Member) => api('DELETE', `${base}/${encodeURIComponent(m.username)}/${m.role}`),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['members', project] }),
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const limited = form.getAll('environment').map(String);
    grant.mutate({
      username: String(form.get('username') ?? '').trim(),
      role: String(form.get('role')) as Member['role'],
      environments: limited.length > 0 ? limited : null,
    });
    e.currentTarget.reset();
  }
  return (
    <section aria-labelledby="members">
      <h2 id="members">Members</h2>
      {members.isError && <ErrorNote error={members.error} doing="load the members" />}
      {members.data?.items.length === 0 && <p>No members yet: only admins see {project}. Grant a role below.</p>}
      {members.data && members.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">user</th>
              <th scope="col">role</th>
              <th scope="col">environments</th>
              <th scope="col">actions</th>
            </tr>
          </thead>
          <tbody>
            {members.data.items.map((m) => (
              <tr key={`${m.username}/${m.role}`}>
                <th scope="row">{m.username}</th>
                <td>{m.role}</td>
                <td>{m.environments === null ? 'all' : `only ${m.environments.join(', ')}`}</td>
                <td>
                  <Gated
                    className="secondary"
                    needs={needs}
                    onClick={() => revoke.mutate(m)}
                    aria-label={`Revoke ${m.role} from ${m.username}`}
                  >
                    Revoke
                  </Gated>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoke.isError && <ErrorNote error={revoke.error} doing="revoke the role" />}
      <form className="filters" onSubmit={submit} aria-label="Grant a role">
        <label>
          Username
          <input name="username" required disabled={needs !== null} />
        </label>
        <label>
          Role
          <select name="role" defaultValue="developer" disabled={needs !== null}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Only in (none: all environments)</legend>
          {shape.ordered.map((e) => (
            <label key={e.name} className="inline">
              <input type="checkbox" name="environment" value={e.name} disabled={needs !== null} /> {e.name}
            </label>
          ))}
        </fieldset>
        <Gated type="submit" needs={needs} disabled={grant.isPending}>
          Grant role
        </Gated>
      </form>
      {grant.isError && <ErrorNote error={grant.error} doing="grant the role" />}
    </section>
  );
}

function Webhooks({ project }: { project: string }) {
  const qc = useQueryClient();
  const base = `/api/v1/projects/${encodeURIComponent(project)}/webhooks`;
  const hooks = useQuery({ queryKey: ['webhooks', project], queryFn: () => api<{ items: Webhook[] }>('GET', base) });
  const [secret, setSecret] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (url: string) => api<Webhook & { secret?: string }>('POST', base, { url }),
    onSuccess: (w) => {
      setSecret(w.secret ?? null);
      void qc.invalidateQueries({ queryKey: ['webhooks', project] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api('DELETE', `${base}/${encodeURIComponent(id)}`),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['webhooks', project] }),
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    create.mutate(String(new FormData(e.currentTarget).get('url') ?? '').trim());
    e.currentTarget.reset();
  }
  return (
    <section aria-labelledby="webhooks">
      <h2 id="webhooks">Webhooks</h2>
      {hooks.isError && <ErrorNote error={hooks.error} doing="load the webhooks" />}
      {hooks.data?.items.length === 0 && <p>No webhooks: nothing outside hoist hears of promotions. Add one below.</p>}
      {hooks.data?.items.map((w) => (
        <article key={w.id} className="target" aria-label={`Webhook ${w.url}`}>
          <h3>
            <code>{w.url}</code>
          </h3>
          <p className="muted">
            {w.events === null ? 'every event' : w.events.join(', ')} · added by {w.createdBy} <Time at={w.createdAt} />{' '}
            <button type="button" className="secondary" onClick={() => remove.mutate(w.id)}>
              Delete
            </button>
          </p>
          <Deliveries project={project} id={w.id} />
        </article>
      ))}
      {remove.isError && <ErrorNote error={remove.error} doing="delete the webhook" />}
      <form className="filters" onSubmit={submit} aria-label="New webhook">
        <label>
          URL
          <input name="url" type="url" required />
        </label>
        <button type="submit" disabled={create.isPending}>
          Add webhook
        </button>
      </form>
      {create.isError && <ErrorNote error={create.error} doing="add the webhook" />}
      {secret && (
        <div role="status" className="secret">
          <p>Its signing secret, shown this once: check X-Hoist-Signature-256 with it.</p>
          <code>{secret}</code>
        </div>
      )}
    </section>
  );
}

function Deliveries({ project, id }: { project: string; id: string }) {
  const deliveries = useQuery({
    queryKey: ['deliveries', project, id],
    queryFn: () =>
      api<{ items: Delivery[] }>(
        'GET',
        `/api/v1/projects/${encodeURIComponent(project)}/webhooks/${encodeURIComponent(id)}/deliveries`,
      ),
    refetchInterval: 10_000,
  });
  if (deliveries.isError) return <ErrorNote error={deliveries.error} doing="load the deliveries" />;
  if (!deliveries.data) return null;
  if (deliveries.data.items.length === 0)
    return <p className="muted">No deliveries yet: nothing has happened since.</p>;
  return (
    <table>
      <caption className="visually-hidden">Recent deliveries</caption>
      <thead>
        <tr>
          <th scope="col">event</th>
          <th scope="col">state</th>
          <th scope="col">attempts</th>
          <th scope="col">last answer</th>
          <th scope="col">when</th>
        </tr>
      </thead>
      <tbody>
        {deliveries.data.items.map((d) => (
          <tr key={d.id}>
            <td>{d.event}</td>
            <td>
              <State state={d.state} />
            </td>
            <td>{d.attempts}</td>
            <td>{d.lastError ?? (d.lastStatus !== null ? `HTTP ${d.lastStatus}` : '—')}</td>
            <td>
              <Time at={d.deliveredAt ?? d.createdAt} />
              {d.nextAttemptAt && (
                <>
                  ; next try <Time at={d.nextAttemptAt} />
                </>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
