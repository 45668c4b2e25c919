/**
 * What the artifact and compare screens derive from an artifact, purely: whether it is signed, where each
 * environment's current digest is, the journey across environments (registered, promoted, refused, waiting) and
 * how long the digest stayed in each environment, and the differences between two artifacts.
 */
import type { Promotion } from '../promotion-types.ts';
import type { Artifact, HistoryEntry } from '../schemas.ts';

/** The referrer artifact types that count as a signature (the server's list: src/promotion/variables.ts). */
const SIGNATURE_TYPES = [
  'application/vnd.dev.cosign.artifact.sig.v1+json',
  'application/vnd.cncf.notary.signature',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
];

export function signatures(a: Artifact): number {
  return a.referrers.filter((r) => r.artifactType !== null && SIGNATURE_TYPES.includes(r.artifactType)).length;
}

export interface Holder {
  digest: string;
  tag: string | null;
  since: string;
}

/** Per environment, the digest that arrived there last (the one it holds now). */
export function holders(artifacts: Artifact[]): Map<string, Holder> {
  const out = new Map<string, Holder>();
  for (const a of artifacts)
    for (const at of a.environments) {
      const known = out.get(at.environment);
      if (!known || known.since < at.since) out.set(at.environment, { digest: a.digest, tag: at.tag, since: at.since });
    }
  return out;
}

export interface Stay {
  environment: string;
  tag: string | null;
  arrived: string;
  /** When a newer digest replaced it there; null while it is still there. */
  replacedAt: string | null;
  replacedBy: string | null;
}

/** Where the artifact has been, in pipeline order, and until when (the arrival of the digest that replaced it). */
export function stays(artifact: Artifact, all: Artifact[]): Stay[] {
  return artifact.environments.map((at) => {
    const later = all
      .filter((o) => o.digest !== artifact.digest)
      .flatMap((o) =>
        o.environments.filter((e) => e.environment === at.environment && e.since > at.since).map((e) => ({ o, e })),
      )
      .sort((x, y) => (x.e.since < y.e.since ? -1 : 1))[0];
    return {
      environment: at.environment,
      tag: at.tag,
      arrived: at.since,
      replacedAt: later?.e.since ?? null,
      replacedBy: later?.o.digest ?? null,
    };
  });
}

export type JourneyStep =
  | { kind: 'registered'; at: string; by: string; environments: string[] }
  | { kind: 'finished'; at: string; entry: HistoryEntry; after: { environment: string; ms: number } | null }
  | { kind: 'waiting'; at: string; request: Promotion; environment: string; state: string; detail: string };

/**
 * The digest's journey, oldest first: registered (in the environments no promotion brought it to), each finished
 * promotion target (who asked, who approved, under which policy version, and how long it had been in the source
 * environment), then what is still on its way.
 */
export function journey(artifact: Artifact, history: HistoryEntry[], open: Promotion[]): JourneyStep[] {
  const mine = history.filter((h) => h.digest === artifact.digest).sort((a, b) => (a.at < b.at ? -1 : 1));
  const broughtBy = new Set(mine.filter((h) => h.state === 'PROMOTED').map((h) => h.to));
  const arrival = new Map(artifact.environments.map((e) => [e.environment, e.since]));
  const steps: JourneyStep[] = [
    {
      kind: 'registered',
      at: artifact.registeredAt,
      by: artifact.registeredBy,
      environments: artifact.environments.map((e) => e.environment).filter((e) => !broughtBy.has(e)),
    },
  ];
  for (const entry of mine) {
    const from = arrival.get(entry.from);
    steps.push({
      kind: 'finished',
      at: entry.at,
      entry,
      after: from ? { environment: entry.from, ms: Date.parse(entry.at) - Date.parse(from) } : null,
    });
  }
  for (const request of open)
    for (const t of request.targets)
      if (t.state === 'AWAITING_APPROVAL' || t.state === 'QUEUED' || t.state === 'PROMOTING') {
        const approved = t.approvals.filter((a) => a.decision === 'approve').length;
        steps.push({
          kind: 'waiting',
          at: request.createdAt,
          request,
          environment: t.environment,
          state: t.state,
          detail:
            t.state === 'AWAITING_APPROVAL'
              ? `${approved}/${t.approvalsNeeded} approvals${t.policy ? ` under ${t.policy.name}@${t.policy.version}` : ''}`
              : t.state === 'QUEUED'
                ? 'queued to copy'
                : 'copying now',
        });
      }
  return steps;
}

/** A duration as people say it: 45 s, 12 min, 3 h 5 min, 2 d 4 h. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export interface SetChange {
  added: string[];
  removed: string[];
}

export function setChange(a: readonly string[], b: readonly string[]): SetChange {
  const left = new Set(a);
  const right = new Set(b);
  return { added: b.filter((x) => !left.has(x)), removed: a.filter((x) => !right.has(x)) };
}

export interface MapChange {
  key: string;
  a: string | undefined;
  b: string | undefined;
}

export function mapChanges(a: Record<string, string>, b: Record<string, string>): MapChange[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => a[k] !== b[k]).map((k) => ({ key: k, a: a[k], b: b[k] }));
}
