/**
 * Live updates: one EventSource on /api/v1/events/stream while signed in. Each promotion event invalidates the
 * queries that show it (the board's cells, the request page, the approvals inbox, history, the badge counts); `reset`
 * (the server could not replay what was missed) invalidates everything; copy progress is kept for the request page.
 * A binding set or removed refreshes the project's bindings and board; a quarantine added or lifted refreshes the
 * quarantine list, the boards and the artifact pages (which show it).
 * The browser reconnects by itself and sends Last-Event-ID, so nothing is missed across a blip. While the stream is
 * down (not yet open, refused, the server restarting), pages poll as before: `usePollInterval(ms)` answers `false`
 * while the stream is up and `ms` otherwise.
 */
import { useEffect, useSyncExternalStore } from 'react';
import { useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';

const PROMOTION_EVENTS = ['promotion.requested', 'promotion.approved', 'promotion.rejected', 'promotion.state'];

export interface CopyProgress {
  bytes: number;
  total: number;
  done: boolean;
}

let connected = false;
const listeners = new Set<() => void>();
function setConnected(value: boolean): void {
  if (connected === value) return;
  connected = value;
  for (const listener of listeners) listener();
}
const subscribe = (listener: () => void): (() => void) => {
  listeners.add(listener);
  return () => listeners.delete(listener);
};

/** Whether the event stream is open now. */
export function useStreamConnected(): boolean {
  return useSyncExternalStore(subscribe, () => connected);
}

/** A query's refetch interval: none while the stream delivers changes, `ms` while it does not. */
export function usePollInterval(ms: number): number | false {
  return useStreamConnected() ? false : ms;
}

/** Bytes copied so far by environment for a request (from copy.progress events; empty when none came). */
export function useCopyProgress(requestId: string): Record<string, CopyProgress> {
  return (
    useQuery<Record<string, CopyProgress>>({
      queryKey: ['copy-progress', requestId],
      queryFn: () => ({}),
      staleTime: Infinity,
    }).data ?? {}
  );
}

function refresh(qc: QueryClient, data: { project?: string; requestId?: string }): void {
  if (data.project === undefined) return void qc.invalidateQueries();
  for (const key of [
    ['promotions', data.project],
    ['artifacts', data.project],
    ['board', data.project],
    ['history', data.project],
    ['me'],
  ])
    void qc.invalidateQueries({ queryKey: key });
  if (data.requestId !== undefined)
    void qc.invalidateQueries({ queryKey: ['promotion', data.project, data.requestId] });
}

function refreshBindings(qc: QueryClient, data: { project?: string }): void {
  if (data.project === undefined) return void qc.invalidateQueries();
  for (const key of [
    ['bindings', data.project],
    ['board', data.project],
  ])
    void qc.invalidateQueries({ queryKey: key });
}

function refreshQuarantine(qc: QueryClient): void {
  for (const key of [['quarantine'], ['board'], ['artifacts']]) void qc.invalidateQueries({ queryKey: key });
}

/** Opens the stream for as long as the calling component (the signed-in frame) is mounted. */
export function useLiveEvents(): void {
  const qc = useQueryClient();
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    const source = new EventSource('/api/v1/events/stream');
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(source.readyState === EventSource.OPEN);
    const onPromotion = (e: MessageEvent<string>) => refresh(qc, JSON.parse(e.data) as { project?: string });
    for (const type of PROMOTION_EVENTS) source.addEventListener(type, onPromotion);
    source.addEventListener('binding.changed', (e: MessageEvent<string>) =>
      refreshBindings(qc, JSON.parse(e.data) as { project?: string }),
    );
    source.addEventListener('quarantine.changed', () => refreshQuarantine(qc));
    source.addEventListener('reset', () => void qc.invalidateQueries());
    source.addEventListener('copy.progress', (e: MessageEvent<string>) => {
      const p = JSON.parse(e.data) as CopyProgress & { requestId: string; environment: string };
      qc.setQueryData<Record<string, CopyProgress>>(['copy-progress', p.requestId], (old) => ({
        ...old,
        [p.environment]: { bytes: p.bytes, total: p.total, done: p.done },
      }));
    });
    return () => {
      source.close();
      setConnected(false);
    };
  }, [qc]);
}
