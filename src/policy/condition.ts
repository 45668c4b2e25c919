/**
 * Checking and compiling one CEL condition: parse and type-check against the policy variables, refuse what is over a
 * cost limit (cost.ts), and report a problem with the line and column it is at. A condition must be a bool. The
 * compiled condition runs under an evaluation budget with RE2 behind `matches` (budget.ts).
 */
import type { Result } from '../result.ts';
import { EVALUATION_BUDGET, instrument, withBudget, type Budget } from './budget.ts';
import type { CelNode } from './cel-ast.ts';
import { costProblem } from './cost.ts';
import { re2Problem } from './regex.ts';
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

/** The first literal `matches` pattern in the expression that RE2 refuses, with its position. */
function patternProblem(ast: CelNode): { message: string; offset: number } | undefined {
  const stack: unknown[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...(node as unknown[]));
    if (typeof node !== 'object' || node === null || !('op' in node)) continue;
    const n = node as CelNode;
    const args = n.args;
    if (n.op === 'rcall' && Array.isArray(args) && args[0] === 'matches') {
      const pattern = (args[2] as CelNode[] | undefined)?.[0];
      if (pattern?.op === 'value' && typeof pattern.args === 'string') {
        const problem = re2Problem(pattern.args);
        if (problem) return { message: problem, offset: pattern.start };
      }
    }
    if (Array.isArray(args)) stack.push(...(args as unknown[]));
  }
  return undefined;
}

export function compileCondition(
  expression: string,
  budget: Budget = EVALUATION_BUDGET,
): Result<CompiledCondition> & { problem?: ConditionProblem } {
  const fail = (message: string, offset?: number): Result<CompiledCondition> & { problem: ConditionProblem } => {
    const p = { ...position(expression, offset), message };
    return { ok: false, error: `line ${p.line}, column ${p.column}: ${message}`, problem: p };
  };
  if (expression.trim() === '') return fail('the condition is empty');
  if (expression.length > MAX_EXPRESSION) return fail(`the condition is longer than ${MAX_EXPRESSION} characters`);
  const env = policyEnvironment();
  try {
    const program = env.parse(expression);
    const checked = program.check() as {
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
    const ast = program.ast as unknown as CelNode;
    const bad = patternProblem(ast);
    if (bad) return fail(bad.message, bad.offset);
    const cost = costProblem(ast);
    if (cost) return fail(cost.message, cost.offset);
    instrument(ast);
    return { ok: true, value: { expression, run: (vars) => withBudget(budget, () => program(vars)) } };
  } catch (e) {
    const err = e as Error & { node?: { start?: number; pos?: number } };
    return fail(firstLine(err.message), err.node?.start ?? err.node?.pos);
  }
}
