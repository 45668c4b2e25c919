/**
 * Why a target waits or was refused, as data a person or a web console can act on (issue 9 §3). A target with no
 * blocker is free to go (QUEUED); `approvals` alone means it waits (AWAITING_APPROVAL); any other blocker refuses it,
 * or, for soak, window and quarantine, refuses the request as a whole (they can pass with time or an admin's act).
 */
import type { ConditionResult } from '../policy/evaluate.ts';

export interface ConditionBlock extends ConditionResult {
  /** The variables the expression names, with the values it saw (`{"image.tag": "latest"}`). */
  values: Record<string, unknown>;
}

export type Blocker =
  | {
      kind: 'approvals';
      have: number;
      need: number;
      /** Who could still approve it: promoters and owners whose role covers the environment, not barred by duty. */
      eligible: string[];
      /** Why approvals are needed: the policy, a protected environment without one, or an automation's request mode. */
      because: 'policy' | 'protected' | 'automation';
    }
  | { kind: 'edge'; from: string; to: string; message: string }
  | { kind: 'policy'; policy: { name: string; version: number }; conditions: ConditionBlock[]; message: string }
  | { kind: 'soak'; environment: string; until: string; message: string }
  | { kind: 'window'; opensAt: string | null; message: string }
  | { kind: 'quarantine'; reason: string; by: string; message: string }
  | { kind: 'decision'; by: string; comment: string; message: string }
  | { kind: 'stale'; message: string };

/** The blockers that refuse a target outright (it ends REJECTED or STALE), as opposed to making it wait. */
export const refuses = (b: Blocker): boolean => b.kind !== 'approvals';

/** A one-line reason per refusing blocker, as the `reasons` list and the stored `reason` say them. */
export function reasonsOf(blockers: readonly Blocker[]): string[] {
  return blockers.flatMap((b) => (b.kind === 'approvals' ? [] : [b.message]));
}

const IDENTIFIER = /[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*/g;
const STRING_LITERAL = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g;

function lookup(vars: Record<string, unknown>, path: string): unknown {
  let v: unknown = vars;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || v instanceof Date || !(part in v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** JSON-safe: CEL integers are bigints, times are Dates. */
const plain = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)) ?? 'null');

/** The values a condition saw: each variable path its expression names (outside string literals) that exists. */
export function conditionValues(expression: string, vars: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of expression.replace(STRING_LITERAL, '""').match(IDENTIFIER) ?? []) {
    const v = lookup(vars, path);
    if (v !== undefined && typeof v !== 'function') out[path] = plain(v);
  }
  return out;
}
