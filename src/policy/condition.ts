/**
 * Checking and compiling one CEL condition: parse and type-check against the policy variables, and report a problem
 * with the line and column it is at. A condition must be a bool.
 */
import type { Result } from '../result.ts';
import { policyEnvironment } from './variables.ts';

export interface CompiledCondition {
  expression: string;
  run(vars: Record<string, unknown>): unknown;
}

export interface ConditionProblem {
  line: number;
  column: number;
  message: string;
}

export const MAX_EXPRESSION = 4096;

function position(expr: string, offset: number | undefined): { line: number; column: number } {
  const before = expr.slice(0, Math.max(0, Math.min(offset ?? 0, expr.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).trim();
}

export function compileCondition(expression: string): Result<CompiledCondition> & { problem?: ConditionProblem } {
  const fail = (message: string, offset?: number): Result<CompiledCondition> & { problem: ConditionProblem } => {
    const p = { ...position(expression, offset), message };
    return { ok: false, error: `line ${p.line}, column ${p.column}: ${message}`, problem: p };
  };
  if (expression.trim() === '') return fail('the condition is empty');
  if (expression.length > MAX_EXPRESSION) return fail(`the condition is longer than ${MAX_EXPRESSION} characters`);
  const env = policyEnvironment();
  try {
    const checked = env.check(expression) as {
      valid: boolean;
      type?: string;
      error?: Error & { node?: { start?: number; pos?: number } };
    };
    if (!checked.valid) {
      const e = checked.error;
      return fail(firstLine(e?.message ?? 'invalid condition'), e?.node?.start ?? e?.node?.pos);
    }
    if (checked.type !== 'bool' && checked.type !== 'dyn')
      return fail(`the condition is a ${checked.type ?? 'value'}, not a bool`);
    const program = env.parse(expression);
    return { ok: true, value: { expression, run: (vars) => program(vars) } };
  } catch (e) {
    const err = e as Error & { node?: { start?: number; pos?: number } };
    return fail(firstLine(err.message), err.node?.start ?? err.node?.pos);
  }
}
