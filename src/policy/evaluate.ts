/**
 * A policy's verdict over one set of variable values, purely. Every condition is evaluated and reported. Denied
 * when any fail condition is true, or when there are pass conditions and any is not true; no conditions allows; a
 * condition that cannot be evaluated (an error, or not a bool) denies, with the error as the reason.
 */
import { compileCondition, type CompiledCondition } from './condition.ts';

export interface PolicyConditions {
  pass: readonly string[];
  fail: readonly string[];
}

export interface ConditionResult {
  kind: 'pass' | 'fail';
  expression: string;
  result: boolean | 'error';
  error?: string;
}

export interface Verdict {
  allowed: boolean;
  reasons: string[];
  conditions: ConditionResult[];
}

const cache = new Map<string, ReturnType<typeof compileCondition>>();

function compiled(expression: string): ReturnType<typeof compileCondition> {
  let c = cache.get(expression);
  if (!c) {
    c = compileCondition(expression);
    if (cache.size > 10_000) cache.clear();
    cache.set(expression, c);
  }
  return c;
}

function run(c: CompiledCondition, vars: Record<string, unknown>): { value: boolean } | { error: string } {
  try {
    const v = c.run(vars);
    return typeof v === 'boolean' ? { value: v } : { error: `evaluated to ${typeof v}, not a bool` };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] ?? String(e) };
  }
}

export function evaluatePolicy(policy: PolicyConditions, vars: Record<string, unknown>): Verdict {
  const conditions: ConditionResult[] = [];
  const reasons: string[] = [];
  for (const [kind, list] of [
    ['pass', policy.pass],
    ['fail', policy.fail],
  ] as const) {
    for (const expression of list) {
      const c = compiled(expression);
      const r = c.ok ? run(c.value, vars) : { error: c.error };
      if ('error' in r) {
        conditions.push({ kind, expression, result: 'error', error: r.error });
        reasons.push(`${kind} condition \`${expression}\` could not be evaluated: ${r.error}`);
        continue;
      }
      conditions.push({ kind, expression, result: r.value });
      if (kind === 'fail' && r.value) reasons.push(`fail condition \`${expression}\` is true`);
      if (kind === 'pass' && !r.value) reasons.push(`pass condition \`${expression}\` is false`);
    }
  }
  return { allowed: reasons.length === 0, reasons, conditions };
}
