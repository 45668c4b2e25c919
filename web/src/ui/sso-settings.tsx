/**
 * Single sign-on administration (the console's `hoist sso show|set|unset`): what is configured (never the client
 * secret, only whether one is stored), a form to set it (hoist reads the provider's discovery document on save and
 * says so when it cannot), and turning it off (asked twice: everyone then signs in with a hoist password again).
 * A blank secret keeps the stored one; "remove the stored secret" makes it a public client (PKCE only).
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError } from '../api.ts';
import type { components } from '../../../src/client/openapi.ts';
import { ErrorNote, Time } from './format.tsx';

type SsoConfig = components['schemas']['SsoConfig'];

const lines = (text: string): string[] =>
  text
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter((l) => l !== '');

export function SsoSettings() {
  const qc = useQueryClient();
  const config = useQuery({
    queryKey: ['sso'],
    // 404: not configured, which is an answer, not an error.
    queryFn: () =>
      api<SsoConfig>('GET', '/api/v1/sso').catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }),
  });
  const [confirmOff, setConfirmOff] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const changed = (message: string) => {
    setSaved(message);
    setConfirmOff(false);
    void qc.invalidateQueries({ queryKey: ['sso'] });
    void qc.invalidateQueries({ queryKey: ['sso-status'] });
  };
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) => api<SsoConfig>('PUT', '/api/v1/sso', body),
    onSuccess: (c) => changed(`Saved: "Sign in with ${c.displayName}" shows on the sign-in page.`),
  });
  const off = useMutation({
    mutationFn: () => api('DELETE', '/api/v1/sso'),
    onSuccess: () => changed('Single sign-on is off: people sign in with a hoist username and password.'),
  });

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const secret = String(form.get('clientSecret') ?? '');
    const scopes = text('scopes').split(/\s+/).filter(Boolean);
    setSaved(null);
    save.mutate({
      issuer: text('issuer'),
      clientId: text('clientId'),
      ...(form.get('removeSecret') === 'on' ? { clientSecret: null } : secret !== '' ? { clientSecret: secret } : {}),
      ...(text('displayName') ? { displayName: text('displayName') } : {}),
      ...(scopes.length > 0 ? { scopes } : {}),
      ...(text('groupsClaim') ? { groupsClaim: text('groupsClaim') } : {}),
      groupRoles: lines(String(form.get('groupRoles') ?? '')),
    });
  }

  const current = config.data ?? null;
  return (
    <section aria-labelledby="sso">
      <h2 id="sso">Single sign-on (OpenID Connect)</h2>
      {config.isError && <ErrorNote error={config.error} doing="load the single sign-on settings" />}
      <p role="status">{saved}</p>
      {config.isSuccess &&
        (current === null ? (
          <p>
            Single sign-on is off: people sign in with a hoist username and password. Fill in the form below to offer
            &quot;Sign in with …&quot; through your OpenID provider.
          </p>
        ) : (
          <dl className="facts">
            <dt>provider</dt>
            <dd>
              <code>{current.issuer}</code> as &quot;{current.displayName}&quot;
            </dd>
            <dt>client</dt>
            <dd>
              <code>{current.clientId}</code>,{' '}
              {current.hasSecret ? 'a client secret is stored' : 'no secret (PKCE only)'}
            </dd>
            <dt>scopes</dt>
            <dd>{current.scopes.join(' ')}</dd>
            <dt>groups</dt>
            <dd>
              from the <code>{current.groupsClaim}</code> claim:{' '}
              {current.groupRoles.length > 0 ? current.groupRoles.join(', ') : 'no group gives a role'}
            </dd>
            <dt>changed</dt>
            <dd>
              by {current.updatedBy} <Time at={current.updatedAt} />
            </dd>
          </dl>
        ))}
      {config.isSuccess && (
        <form onSubmit={submit} key={current?.updatedAt ?? 'none'} aria-label="Single sign-on settings">
          <label>
            Issuer URL
            <input name="issuer" type="url" required defaultValue={current?.issuer ?? ''} />
          </label>
          <label>
            Client ID
            <input name="clientId" required defaultValue={current?.clientId ?? ''} />
          </label>
          <label>
            Client secret
            <input name="clientSecret" type="password" autoComplete="new-password" aria-describedby="sso-secret-hint" />
          </label>
          <p id="sso-secret-hint" className="muted">
            {current?.hasSecret
              ? 'Leave blank to keep the stored secret (it is never shown).'
              : 'Leave blank for a public client (PKCE only).'}
          </p>
          {current?.hasSecret && (
            <label className="inline">
              <input type="checkbox" name="removeSecret" /> Remove the stored secret
            </label>
          )}
          <label>
            Name on the sign-in page
            <input name="displayName" defaultValue={current?.displayName ?? ''} placeholder="the issuer's host" />
          </label>
          <label>
            Scopes (space-separated)
            <input name="scopes" defaultValue={current?.scopes.join(' ') ?? ''} placeholder="openid profile email" />
          </label>
          <label>
            Groups claim
            <input name="groupsClaim" defaultValue={current?.groupsClaim ?? ''} placeholder="groups" />
          </label>
          <label>
            Group roles, one per line
            <textarea
              name="groupRoles"
              rows={3}
              defaultValue={current?.groupRoles.join('\n') ?? ''}
              aria-describedby="sso-roles-hint"
            />
          </label>
          <p id="sso-roles-hint" className="muted">
            GROUP:PROJECT:ROLE gives a project role (viewer, developer, promoter, owner); GROUP:*:admin makes hoist
            admins.
          </p>
          {save.isError && <ErrorNote error={save.error} doing="save the single sign-on settings" />}
          <div className="actions">
            <button type="submit" disabled={save.isPending}>
              {current === null ? 'Turn on single sign-on' : 'Save single sign-on'}
            </button>
          </div>
        </form>
      )}
      {current !== null && (
        <div className="actions">
          {confirmOff ? (
            <>
              <button type="button" disabled={off.isPending} onClick={() => off.mutate()}>
                Yes, turn single sign-on off
              </button>
              <button type="button" className="secondary" onClick={() => setConfirmOff(false)}>
                Keep it
              </button>
            </>
          ) : (
            <button type="button" className="secondary" onClick={() => setConfirmOff(true)}>
              Turn single sign-on off…
            </button>
          )}
        </div>
      )}
      {off.isError && <ErrorNote error={off.error} doing="turn single sign-on off" />}
    </section>
  );
}
