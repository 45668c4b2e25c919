/** The caller's API tokens: create one (its secret is shown once, here, and never again), list, revoke. */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.ts';
import { ErrorNote, Time } from '../ui/format.tsx';

interface TokenView {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export default function Tokens() {
  const qc = useQueryClient();
  const tokens = useQuery({
    queryKey: ['tokens'],
    queryFn: () => api<{ items: TokenView[] }>('GET', '/api/v1/tokens'),
  });
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const create = useMutation({
    mutationFn: (v: { name: string; expiresInDays?: number }) =>
      api<{ name: string; token: string }>('POST', '/api/v1/tokens', v),
    onSuccess: (t) => {
      setSecret({ name: t.name, token: t.token });
      void qc.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['tokens'] }),
  });

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const days = Number(form.get('days') ?? 0);
    create.mutate({ name: String(form.get('name') ?? ''), ...(days > 0 ? { expiresInDays: days } : {}) });
    e.currentTarget.reset();
  }

  return (
    <section>
      <h1>API tokens</h1>
      <form className="filters" onSubmit={submit}>
        <label>
          Name
          <input name="name" required maxLength={64} />
        </label>
        <label>
          Expires in days
          <input name="days" type="number" min={1} max={3650} defaultValue={90} />
        </label>
        <button type="submit" disabled={create.isPending}>
          Create token
        </button>
      </form>
      {create.isError && <ErrorNote error={create.error} doing="create the token" />}
      {secret && (
        <div role="status" className="secret">
          <p>
            Token <strong>{secret.name}</strong> created. Copy its secret now: it is shown this once and never again.
          </p>
          <code data-testid="token-secret">{secret.token}</code>{' '}
          <button type="button" onClick={() => setSecret(null)}>
            I have copied it
          </button>
        </div>
      )}
      {tokens.isError && <ErrorNote error={tokens.error} doing="load your tokens" />}
      {tokens.data && tokens.data.items.length === 0 && <p>No tokens yet. CI systems sign in with one.</p>}
      {tokens.data && tokens.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">name</th>
              <th scope="col">created</th>
              <th scope="col">expires</th>
              <th scope="col">last used</th>
              <th scope="col">state</th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.items.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>
                  <Time at={t.createdAt} />
                </td>
                <td>{t.expiresAt ? <Time at={t.expiresAt} /> : 'never'}</td>
                <td>{t.lastUsedAt ? <Time at={t.lastUsedAt} /> : 'never'}</td>
                <td>
                  {t.revokedAt ? (
                    'revoked'
                  ) : (
                    <button type="button" className="secondary" onClick={() => revoke.mutate(t.id)}>
                      Revoke {t.name}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
