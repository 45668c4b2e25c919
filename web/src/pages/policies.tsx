/**
 * Policies: every policy with its current version, what it asks (approvers, conditions) and where it applies; admins
 * create a new one here and edit it on its own page.
 */
import type { FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useLocation } from 'wouter';
import { api } from '../api.ts';
import type { Policy } from '../schemas.ts';
import { useSignedIn } from '../session.tsx';
import { ErrorNote, Time } from '../ui/format.tsx';
import { Gated } from '../ui/gated.tsx';

export default function Policies() {
  const me = useSignedIn();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const policies = useQuery({
    queryKey: ['policies'],
    queryFn: () => api<{ items: Policy[] }>('GET', '/api/v1/policies'),
  });
  const create = useMutation({
    mutationFn: (name: string) => api<Policy>('POST', '/api/v1/policies', { name }),
    onSuccess: (p) => {
      void qc.invalidateQueries({ queryKey: ['policies'] });
      navigate(`/policies/${encodeURIComponent(p.name)}`);
    },
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    create.mutate(String(new FormData(e.currentTarget).get('name') ?? '').trim());
  }

  return (
    <section>
      <h1>Policies</h1>
      <p className="muted">
        A policy decides whether a promotion into an application × environment may happen: its conditions (CEL) and the
        approvals it needs. Each change makes a new version; requests remember the version they were judged by.
      </p>
      <form className="filters" onSubmit={submit}>
        <label>
          New policy name
          <input name="name" required maxLength={63} disabled={!me.isAdmin} />
        </label>
        <Gated type="submit" needs={me.isAdmin ? null : 'the admin role'} disabled={create.isPending}>
          Create policy
        </Gated>
      </form>
      {create.isError && <ErrorNote error={create.error} doing="create the policy" />}
      {policies.isError && <ErrorNote error={policies.error} doing="load the policies" />}
      {policies.data && policies.data.items.length === 0 && (
        <p>No policies yet: promotions need no approval and no condition. An admin creates one above.</p>
      )}
      {policies.data && policies.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">policy</th>
              <th scope="col">version</th>
              <th scope="col">approvers</th>
              <th scope="col">conditions</th>
              <th scope="col">applies to</th>
              <th scope="col">changed</th>
            </tr>
          </thead>
          <tbody>
            {policies.data.items.map((p) => (
              <tr key={p.name}>
                <th scope="row">
                  <Link href={`/policies/${encodeURIComponent(p.name)}`}>{p.name}</Link>
                </th>
                <td>v{p.version}</td>
                <td>{p.approverCount}</td>
                <td>
                  {p.passConditions.length} pass, {p.failConditions.length} fail
                </td>
                <td>
                  {p.appliesTo.length === 0
                    ? 'nowhere yet'
                    : p.appliesTo.map((b) => `${b.project}/${b.application}→${b.environment}`).join(', ')}
                </td>
                <td>
                  <Time at={p.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
