/** The promotion shapes the console reads (from the API's Promotion schema). */
export type TargetState =
  'AWAITING_APPROVAL' | 'QUEUED' | 'PROMOTING' | 'PROMOTED' | 'REJECTED' | 'CANCELED' | 'STALE' | 'FAILED';

export const FINAL: readonly TargetState[] = ['PROMOTED', 'REJECTED', 'CANCELED', 'STALE', 'FAILED'];

export interface Condition {
  kind: 'pass' | 'fail';
  expression: string;
  result: boolean | 'error';
  error?: string;
  values?: Record<string, unknown>;
}

export type Blocker =
  | { kind: 'approvals'; have: number; need: number; eligible?: string[] }
  | { kind: 'window'; opensAt?: string | null }
  | { kind: 'soak'; until: string }
  | { kind: 'policy'; conditions: Condition[] }
  | { kind: 'quarantine'; reason: string }
  | { kind: 'edge' }
  | { kind: string; [k: string]: unknown };

export interface Target {
  environment: string;
  state: TargetState;
  policy: { name: string; version: number } | null;
  approvalsNeeded: number;
  approvals: Array<{ username: string; decision: string; comment: string; at: string }>;
  reasons: string[];
  verdict: { allowed: boolean; reasons: string[]; conditions: Condition[] } | null;
  blockedBy?: Blocker[];
  /** Present while it waits to be tried again after a transient failure (a registry down). */
  retry?: { at: string; attempts: number; failingSince: string; lastError: string };
}

export interface Promotion {
  id: string;
  project: string;
  application: string;
  digest: string;
  tag?: string | null;
  from: string;
  requestedBy: string;
  comment: string;
  createdAt: string;
  targets: Target[];
}
