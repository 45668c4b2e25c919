/**
 * Administration across projects: registries (with a connection test that shows the registry's own message),
 * users and single sign-on. Everyone signed in sees the registries; changing them, testing them, the users and
 * single sign-on are for admins, and the page says so.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { ConnectionReport, Registry, User } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { ErrorNote, Time } from '../ui/format.tsx';
import { Gated } from '../ui/gated.tsx';
import { needsAdmin } from '../ui/roles.ts';
import { SsoSettings } from '../ui/sso-settings.tsx';

export default function Admin() {
  const me = useSignedIn();
  return (
    <section>
      <h1>Administration</h1>
      <Registries />
      {me.isAdmin ? (
        <Users />
      ) : (
        <section aria-labelledby="users">
          <h2 id="users">Users</h2>
          <p className="muted">
            Users are managed by admins. Project owners grant roles on their project's Access page.
          </p>
        </section>
      )}
      {me.isAdmin ? (
        <SsoSettings />
      ) : (
        <section aria-labelledby="sso">
          <h2 id="sso">Single sign-on</h2>
          <p className="muted">Single sign-on (OpenID Connect) is set up by admins.</p>
        </section>
      )}
    </section>
  );
}

function Registries() {
  const me = useSignedIn();
  const qc = useQueryClient();
  const registries = useQuery({
    queryKey: ['registries'],
    queryFn: () => api<{ items: Registry[] }>('GET', '/api/v1/registries?limit=1000'),
  });
  const [reports, setReports] = useState<Record<string, ConnectionReport | { error: unknown }>>({});
  const test = useMutation({
    mutationFn: (name: string) => api<ConnectionReport>('POST', `/api/v1/registries/${encodeURIComponent(name)}/test`),
    onSuccess: (r, name) => setReports((x) => ({ ...x, [name]: r })),
    onError: (error, name) => setReports((x) => ({ ...x, [name]: { error } })),
  });
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api<Registry>('POST', '/api/v1/registries', body),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['registries'] }),
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const username = String(form.get('username') ?? '').trim();
    const password = String(form.get('password') ?? '');
    create.mutate({
      name: String(form.get('name') ?? '').trim(),
      url: String(form.get('url') ?? '').trim(),
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
    });
    e.currentTarget.reset();
  }
  const needs = needsAdmin(me);
  return (
    <section aria-labelledby="registries">
      <h2 id="registries">Registries</h2>
      {registries.isError && <ErrorNote error={registries.error} doing="load the registries" />}
      {registries.data?.items.length === 0 && <p>No registries yet: an admin adds the first one below.</p>}
      {registries.data && registries.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">registry</th>
              <th scope="col">address</th>
              <th scope="col">credentials</th>
              <th scope="col">connection</th>
            </tr>
          </thead>
          <tbody>
            {registries.data.items.map((r) => {
              const report = reports[r.name];
              return (
                <tr key={r.name}>
                  <th scope="row">{r.name}</th>
                  <td>
                    <code>{r.url}</code>
                    {r.insecure ? ' (plain HTTP)' : ''}
                  </td>
                  <td>{r.username ? `${r.username}${r.hasSecret ? ' with a stored secret' : ''}` : 'anonymous'}</td>
                  <td>
                    <Gated
                      className="secondary"
                      needs={needs}
                      disabled={test.isPending && test.variables === r.name}
                      onClick={() => test.mutate(r.name)}
                      aria-label={`Test connection to ${r.name}`}
                    >
                      Test connection
                    </Gated>
                    {report && 'error' in report && <ErrorNote error={report.error} doing={`test ${r.name}`} />}
                    {report && !('error' in report) && (
                      <div role="status" className={report.reachable ? 'ok' : 'error'}>
                        <span aria-hidden="true">{report.reachable ? '✔ ' : '✖ '}</span>
                        {report.reachable ? 'reachable' : 'unreachable'}; credentials: {report.auth}; referrers API:{' '}
                        {String(report.referrersApi)}
                        <div>
                          The registry says: <q>{report.message}</q>
                        </div>
                      </div>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <form className="filters" onSubmit={submit} aria-label="New registry">
        <label>
          Name
          <input name="name" required disabled={needs !== null} />
        </label>
        <label>
          Address (host:port or URL)
          <input name="url" required disabled={needs !== null} />
        </label>
        <label>
          Username
          <input name="username" autoComplete="off" disabled={needs !== null} />
        </label>
        <label>
          Password or token
          <input name="password" type="password" autoComplete="new-password" disabled={needs !== null} />
        </label>
        <Gated type="submit" needs={needs} disabled={create.isPending}>
          Add registry
        </Gated>
      </form>
      {create.isError && <ErrorNote error={create.error} doing="add the registry" />}
    </section>
  );
}

function Users() {
  const qc = useQueryClient();
  const users = useQuery({ queryKey: ['users'], queryFn: () => api<{ items: User[] }>('GET', '/api/v1/users') });
  const create = useMutation({
    mutationFn: (body: { username: string; password: string; isAdmin: boolean; email?: string }) =>
      api<User>('POST', '/api/v1/users', body),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['users'] }),
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const email = String(form.get('email') ?? '').trim();
    create.mutate({
      username: String(form.get('username') ?? '').trim(),
      password: String(form.get('password') ?? ''),
      isAdmin: form.get('isAdmin') === 'on',
      ...(email ? { email } : {}),
    });
    e.currentTarget.reset();
  }
  return (
    <section aria-labelledby="users">
      <h2 id="users">Users</h2>
      {users.isError && <ErrorNote error={users.error} doing="load the users" />}
      {users.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">user</th>
              <th scope="col">admin</th>
              <th scope="col">e-mail (approval requests)</th>
              <th scope="col">since</th>
            </tr>
          </thead>
          <tbody>
            {users.data.items.map((u) => (
              <tr key={u.username}>
                <th scope="row">{u.username}</th>
                <td>{u.isAdmin ? '✔ admin' : '—'}</td>
                <td>{u.email ?? 'none: approval e-mails cannot reach them'}</td>
                <td>
                  <Time at={u.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="filters" onSubmit={submit} aria-label="New user">
        <label>
          Username
          <input name="username" required autoComplete="off" />
        </label>
        <label>
          Password
          <input name="password" type="password" required autoComplete="new-password" />
        </label>
        <label>
          E-mail
          <input name="email" type="email" />
        </label>
        <label className="inline">
          <input type="checkbox" name="isAdmin" /> admin
        </label>
        <button type="submit" disabled={create.isPending}>
          Create user
        </button>
      </form>
      {create.isError && <ErrorNote error={create.error} doing="create the user" />}
      {create.isSuccess && (
        <p role="status" className="ok">
          <span aria-hidden="true">✔ </span>User {create.data.username} created. Grant them a role on a project's Access
          page.
        </p>
      )}
    </section>
  );
}
