/** Small pieces every screen uses: digests in monospace with a copy button, times relative with the UTC time on
 * hover, states by text and icon (never colour alone), and error notes that say what to do next. */
import { useEffect, useState, useSyncExternalStore } from 'react';
import { ApiError } from '../api.ts';
import { CopyButton } from './copy-text.tsx';

/** A size in bytes as people read it: 512 B, 3.4 KiB, 12.0 MiB. */
export const byteSize = (n: number): string =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

export function shortDigest(digest: string): string {
  return digest.startsWith('sha256:') ? `sha256:${digest.slice(7, 19)}` : digest.slice(0, 19);
}

export function Digest({ value, full = false }: { value: string; full?: boolean }) {
  return (
    <span className="digest-wrap">
      <code className="digest" title={value}>
        {full ? value : shortDigest(value)}
      </code>
      <CopyButton value={value} label={`digest ${value}`} />
    </span>
  );
}

export function relative(to: Date, now: Date): string {
  const s = Math.round((to.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(s);
  if (abs === 0) return 'now';
  const [n, unit] =
    abs < 60
      ? [abs, 's']
      : abs < 3600
        ? [Math.round(abs / 60), 'min']
        : abs < 86400
          ? [Math.round(abs / 3600), 'h']
          : [Math.round(abs / 86400), 'd'];
  return s >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

/** Re-renders every `ms` so countdowns and ages stay true. */
export function useNow(ms = 1000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/**
 * One 30-second tick for every <Time> on the page (a board shows hundreds): one interval, not one per time, started
 * with the first subscriber and stopped with the last.
 */
let tick = 0;
let ticker: ReturnType<typeof setInterval> | undefined;
const tickListeners = new Set<() => void>();
function subscribeTick(listener: () => void): () => void {
  tickListeners.add(listener);
  ticker ??= setInterval(() => {
    tick++;
    for (const l of tickListeners) l();
  }, 30_000);
  return () => {
    tickListeners.delete(listener);
    if (tickListeners.size === 0 && ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };
}

export function Time({ at }: { at: string }) {
  // The tick re-renders a time that stays on screen; each render measures from the clock as it is then, so a time
  // that changed since the last tick (a policy saved a moment ago) is not shown as in the future.
  useSyncExternalStore(subscribeTick, () => tick);
  const now = new Date();
  const d = new Date(at);
  return (
    <time
      dateTime={at}
      title={d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')}
    >
      {relative(d, now)}
    </time>
  );
}

const STATE_ICON: Record<string, string> = {
  AWAITING_APPROVAL: '◷',
  QUEUED: '⋯',
  PROMOTING: '↻',
  PROMOTED: '✔',
  REJECTED: '✖',
  CANCELED: '⊘',
  STALE: '⚠',
  FAILED: '✖',
};

export function State({ state }: { state: string }) {
  return (
    <span className={`state state-${state.toLowerCase()}`}>
      <span aria-hidden="true">{STATE_ICON[state] ?? '•'} </span>
      {state.replace('_', ' ').toLowerCase()}
    </span>
  );
}

export function ErrorNote({ error, doing }: { error: unknown; doing: string }) {
  const message =
    error instanceof ApiError
      ? error.status >= 500
        ? `hoist failed (${error.message}); try again, and check the server log if it persists.`
        : `${error.message.replace(/\.?$/, '.')} ${NEXT_STEP[error.status] ?? ''}`.trim()
      : 'hoist is not answering; check that the server runs, then reload.';
  return (
    <p role="alert" className="error">
      Could not {doing}: {message}
    </p>
  );
}

/** What to do after a refusal, by status: the server's message says what was wrong, this what to try next. */
const NEXT_STEP: Record<number, string> = {
  400: 'Correct it and try again.',
  403: 'Ask an owner of the project (or an admin) for the role.',
  404: 'Check the link, or start again from the projects page.',
  409: 'The page shows the state as it is now; try again if it still applies.',
  414: 'Shorten what you typed and try again.',
  431: 'Shorten what you typed and try again.',
  429: 'Wait a moment and try again.',
};
