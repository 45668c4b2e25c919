/**
 * The project board as data: for every application × environment (environments in pipeline order) what the
 * environment holds now (digest, tag, since when, who brought it and by which request), how its version is chosen
 * (track-latest or pinned), whether the build it holds still soaks, whether the environment's promotion window is
 * open, which requests wait for it, and whether a newer build waits upstream. `planBoard` is a pure function of the
 * facts the store loads in one query (src/store/board.query.ts) and of the time, so each rule is a row in
 * test/unit/board.test.ts.
 */
import { describeWindow, isOpen, nextOpening, type PromotionWindow } from '../automation/window.ts';
import type { EnvironmentFacts, TargetState } from './context.ts';

/** The build an environment holds now: the artifact of the application that arrived there last. */
export interface HoldingFacts {
  applicationId: string;
  environmentId: string;
  digest: string;
  /** The tag the environment holds it under. */
  tag: string | null;
  since: Date;
  /** The image's created time (the build), if it says. */
  created: Date | null;
  /** When hoist learned of the build (registration): the tiebreak for "newer". */
  registeredAt: Date;
  registeredBy: string;
  /** The request whose promotion brought it here (the latest PROMOTED target), null when it was registered here. */
  request: { id: string; requestedBy: string; release?: string } | null;
  quarantine: { reason: string; by: string; at: Date } | null;
}

export interface BindingFacts {
  applicationId: string;
  environmentId: string;
  mode: 'track-latest' | 'pin';
  pinnedDigest: string | null;
  updatedBy: string;
  updatedAt: Date;
}

/** A target not finished yet (AWAITING_APPROVAL, QUEUED or PROMOTING). */
export interface PendingFacts {
  applicationId: string;
  environmentId: string;
  request: string;
  state: TargetState;
  digest: string;
  tag: string | null;
  requestedBy: string;
  requestedAt: Date;
  approvalsHave: number;
  approvalsNeeded: number;
  /** The release the request promotes (its every application has a pending entry), if any. */
  release?: string | null;
}

export interface BoardFacts {
  project: string;
  /** Ordered by position. */
  environments: EnvironmentFacts[];
  edges: Array<{ from: string; to: string }>;
  /** Ordered by name. */
  applications: Array<{ id: string; name: string }>;
  holdings: HoldingFacts[];
  bindings: BindingFacts[];
  pending: PendingFacts[];
}

export interface BoardCell {
  environment: string;
  current: {
    digest: string;
    tag: string | null;
    since: string;
    /** Who requested the promotion that brought it (or registered it, when it was registered here). */
    by: string;
    /** That request; null when the build was registered in this environment. */
    request: string | null;
    /** The release that request promoted, if it did. */
    release?: string;
    quarantine: { reason: string; by: string; at: string } | null;
  } | null;
  binding: { mode: 'track-latest' | 'pin'; pinnedDigest: string | null; updatedBy: string; updatedAt: string } | null;
  /** The build held here may leave once it has soaked: until then `soaking`. Null: no soak time, or nothing held. */
  soak: { until: string; soaking: boolean } | null;
  /**
   * Whether promotions may enter now (no windows: always), and when the next window opens if not, with the time zone
   * of the window that opens then (so a page can say "opens Mon 09:00 Europe/Berlin").
   */
  window: { open: boolean; opensAt: string | null; timeZone: string | null };
  /** Requests with a target here that is not finished, oldest first; approvals only while AWAITING_APPROVAL. */
  pending: Array<{
    request: string;
    state: TargetState;
    digest: string;
    tag: string | null;
    requestedBy: string;
    requestedAt: string;
    approvals: { have: number; need: number } | null;
    release?: string;
  }>;
  /** The newest build an upstream environment holds that is newer than (and not) the one held here, not quarantined. */
  newerUpstream: {
    environment: string;
    digest: string;
    tag: string | null;
    since: string;
    /** When it may leave upstream (its soak there ends); `soaking` while that is in the future. */
    soakedAt: string;
    soaking: boolean;
  } | null;
}

export interface Board {
  project: string;
  /** The time the board was computed for (soak and window states are as of then). */
  at: string;
  environments: Array<{
    name: string;
    position: number;
    protected: boolean;
    soakSeconds: number;
    /** The promotion windows, described ("mon-fri 09:00-17:00 Europe/Berlin"); none: always open. */
    windows: string[];
  }>;
  edges: Array<{ from: string; to: string }>;
  /** Applications by name, each with one cell per environment in pipeline order. */
  applications: Array<{ name: string; cells: BoardCell[] }>;
}

/** Whether promotions may enter now, and when the next window opens if not. */
export type WindowState = BoardCell['window'];

/** An environment's window state at `now` (nextOpening walks the minutes ahead: milliseconds when closed). */
export function windowState(windows: readonly PromotionWindow[], now: Date): WindowState {
  if (isOpen(windows, now)) return { open: true, opensAt: null, timeZone: null };
  const next = nextOpening(windows, now);
  const opening = next === undefined ? undefined : windows.find((w) => isOpen([w], next));
  return { open: false, opensAt: next?.toISOString() ?? null, timeZone: opening?.timeZone ?? null };
}

const UNFINISHED: ReadonlySet<TargetState> = new Set(['AWAITING_APPROVAL', 'QUEUED', 'PROMOTING']);

/** Newer build first: the image's created time, then when hoist learned of it (as track-latest orders them). */
export function newerBuild(a: HoldingFacts, b: HoldingFacts): boolean {
  const created = (a.created?.getTime() ?? 0) - (b.created?.getTime() ?? 0);
  return created !== 0 ? created > 0 : a.registeredAt.getTime() > b.registeredAt.getTime();
}

/**
 * Where builds come from into each environment: the sources of the pipeline edges into it, nearest stage first; an
 * environment no edge enters looks at the stage before it.
 */
export function upstreamOf(
  environments: readonly EnvironmentFacts[],
  edges: BoardFacts['edges'],
): Map<string, EnvironmentFacts[]> {
  const byName = new Map(environments.map((e) => [e.name, e]));
  return new Map(
    environments.map((e, i) => {
      const fed = edges
        .filter((edge) => edge.to === e.name)
        .map((edge) => byName.get(edge.from))
        .filter((f): f is EnvironmentFacts => f !== undefined)
        .sort((a, b) => b.position - a.position);
      const previous = environments[i - 1];
      return [e.name, fed.length > 0 ? fed : previous ? [previous] : []];
    }),
  );
}

const key = (applicationId: string, environmentId: string): string => `${applicationId}\u0000${environmentId}`;
const soakEnd = (h: HoldingFacts, e: EnvironmentFacts): Date => new Date(h.since.getTime() + e.soakSeconds * 1000);

/** The board at `now`; `windows` answers an environment's window state (a cache of windowState may stand in). */
export function planBoard(facts: BoardFacts, now: Date, windows: typeof windowState = windowState): Board {
  const holdings = new Map(facts.holdings.map((h) => [key(h.applicationId, h.environmentId), h]));
  const bindings = new Map(facts.bindings.map((b) => [key(b.applicationId, b.environmentId), b]));
  const pending = new Map<string, PendingFacts[]>();
  for (const p of [...facts.pending].sort((a, b) => a.requestedAt.getTime() - b.requestedAt.getTime())) {
    if (!UNFINISHED.has(p.state)) continue;
    const k = key(p.applicationId, p.environmentId);
    const list = pending.get(k);
    if (list) list.push(p);
    else pending.set(k, [p]);
  }
  const upstream = upstreamOf(facts.environments, facts.edges);
  // A window's state is the environment's, the same for every application: worked out once per environment.
  const windowOf = new Map(facts.environments.map((e) => [e.name, windows(e.windows, now)]));

  const cell = (appId: string, e: EnvironmentFacts): BoardCell => {
    const held = holdings.get(key(appId, e.id));
    const binding = bindings.get(key(appId, e.id));
    let newer: { env: EnvironmentFacts; holding: HoldingFacts } | undefined;
    for (const from of upstream.get(e.name) ?? []) {
      const there = holdings.get(key(appId, from.id));
      // A quarantined build will not come: it is no newer build waiting.
      if (!there || there.quarantine || there.digest === held?.digest) continue;
      if (held && !newerBuild(there, held)) continue;
      if (!newer || newerBuild(there, newer.holding)) newer = { env: from, holding: there };
    }
    return {
      environment: e.name,
      current: held
        ? {
            digest: held.digest,
            tag: held.tag,
            since: held.since.toISOString(),
            by: held.request?.requestedBy ?? held.registeredBy,
            request: held.request?.id ?? null,
            ...(held.request?.release !== undefined ? { release: held.request.release } : {}),
            quarantine: held.quarantine
              ? { reason: held.quarantine.reason, by: held.quarantine.by, at: held.quarantine.at.toISOString() }
              : null,
          }
        : null,
      binding: binding
        ? {
            mode: binding.mode,
            pinnedDigest: binding.pinnedDigest,
            updatedBy: binding.updatedBy,
            updatedAt: binding.updatedAt.toISOString(),
          }
        : null,
      soak:
        held && e.soakSeconds > 0 ? { until: soakEnd(held, e).toISOString(), soaking: soakEnd(held, e) > now } : null,
      window: windowOf.get(e.name) ?? { open: true, opensAt: null, timeZone: null },
      pending: (pending.get(key(appId, e.id)) ?? []).map((p) => ({
        request: p.request,
        state: p.state,
        digest: p.digest,
        tag: p.tag,
        requestedBy: p.requestedBy,
        requestedAt: p.requestedAt.toISOString(),
        approvals: p.state === 'AWAITING_APPROVAL' ? { have: p.approvalsHave, need: p.approvalsNeeded } : null,
        ...(p.release ? { release: p.release } : {}),
      })),
      newerUpstream: newer
        ? {
            environment: newer.env.name,
            digest: newer.holding.digest,
            tag: newer.holding.tag,
            since: newer.holding.since.toISOString(),
            soakedAt: soakEnd(newer.holding, newer.env).toISOString(),
            soaking: soakEnd(newer.holding, newer.env) > now,
          }
        : null,
    };
  };

  return {
    project: facts.project,
    at: now.toISOString(),
    environments: facts.environments.map((e) => ({
      name: e.name,
      position: e.position,
      protected: e.protected,
      soakSeconds: e.soakSeconds,
      windows: e.windows.map(describeWindow),
    })),
    edges: facts.edges,
    applications: facts.applications.map((a) => ({
      name: a.name,
      cells: facts.environments.map((e) => cell(a.id, e)),
    })),
  };
}
