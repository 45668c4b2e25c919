/**
 * Pin / track latest from a board cell: the environment's binding for one application, changed in a small modal
 * dialog (native <dialog>, Tab kept inside, Esc closes, the focus goes back to the button that opened it). Three
 * choices: promotions only by hand (no binding), track the latest good build from upstream, or pin to the digest the
 * cell holds now. Saving is PUT/DELETE …/bindings/{env}; someone without the owner or promoter role for that
 * environment sees the choices and a disabled Save that says which role it needs (the server checks again).
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.ts';
import type { components } from '../../../src/client/openapi.ts';
import { useSignedIn } from '../session.tsx';
import { Digest, ErrorNote } from './format.tsx';
import { Gated } from './gated.tsx';
import { needsRole } from './roles.ts';
import { useModalDialog } from './modal-dialog.ts';

type Binding = components['schemas']['BoardCell']['binding'];
type Mode = 'manual' | 'track-latest' | 'pin';
/** The choices, in the order offered. */
const MODES: ReadonlyArray<readonly [Mode, string]> = [
  ['manual', 'Promotions only'],
  ['track-latest', 'Track the latest good build'],
  ['pin', 'Pin to the digest held now'],
];

export function BindingDialog(props: {
  project: string;
  app: string;
  environment: string;
  binding: Binding;
  /** The digest the environment holds now (what "pin" pins), if any. */
  held: string | null;
  onClose: () => void;
}) {
  const me = useSignedIn();
  const qc = useQueryClient();
  const { dialogProps, closeNow } = useModalDialog(props.onClose);
  const [mode, setMode] = useState<Mode>(props.binding?.mode ?? 'manual');
  const path = `/api/v1/projects/${encodeURIComponent(props.project)}/applications/${encodeURIComponent(
    props.app,
  )}/bindings/${encodeURIComponent(props.environment)}`;
  const save = useMutation({
    mutationFn: (comment: string) =>
      mode === 'manual'
        ? api('DELETE', path)
        : api(
            'PUT',
            path,
            mode === 'pin'
              ? { mode: 'pin', digest: props.held, ...(comment !== '' ? { comment } : {}) }
              : { mode: 'track-latest' },
          ),
    onSuccess: () => {
      for (const key of ['board', 'bindings', 'promotions'])
        void qc.invalidateQueries({ queryKey: [key, props.project] });
      closeNow();
    },
  });
  const needs = needsRole(me, props.project, ['owner', 'promoter'], props.environment);
  const current = props.binding?.mode ?? 'manual';

  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    save.mutate(String(new FormData(e.currentTarget).get('comment') ?? ''));
  }

  return (
    <dialog {...dialogProps} aria-labelledby="binding-title">
      <h2 id="binding-title">
        {props.app} in {props.environment}
      </h2>
      <p>
        Now:{' '}
        {props.binding === null
          ? 'promotions only (no binding)'
          : props.binding.mode === 'pin'
            ? `pinned to ${props.binding.pinnedDigest ?? ''} by ${props.binding.updatedBy}`
            : `tracks the latest good build (set by ${props.binding.updatedBy})`}
      </p>
      <form onSubmit={submit} aria-label="Binding">
        <fieldset>
          <legend>Binding</legend>
          {MODES.map(([value, label]) => (
            <label className="inline" key={value}>
              <input
                type="radio"
                name="mode"
                value={value}
                checked={mode === value}
                disabled={value === 'pin' && props.held === null}
                onChange={() => setMode(value)}
              />{' '}
              {label}
            </label>
          ))}
          {props.held !== null ? (
            <p className="muted">
              Pin keeps <Digest value={props.held} /> here until someone changes it.
            </p>
          ) : (
            <p className="muted">Nothing is held here yet: promote a build first to pin it.</p>
          )}
        </fieldset>
        {mode === 'pin' && (
          <label>
            Comment
            <textarea name="comment" rows={2} />
          </label>
        )}
        {save.isError && <ErrorNote error={save.error} doing="change the binding" />}
        <div className="actions">
          <Gated type="submit" needs={needs} disabled={save.isPending || mode === current}>
            Save binding
          </Gated>{' '}
          <button type="button" className="secondary" onClick={closeNow}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
