/**
 * The evaluation budget of a user-written CEL condition: no single evaluation may hold the event loop for longer than
 * EVALUATION_BUDGET.milliseconds, nor take more than EVALUATION_BUDGET.steps steps, whatever the compile-time
 * estimate (cost.ts) missed. Evaluation is synchronous and the library has no step counter, so `instrument` wraps the
 * nodes where work repeats (every function call, every comprehension and the body of each comprehension) with a
 * tick, and every tick reads the clock (one step may be slow: a function over a label of megabytes). Over budget,
 * evaluation stops with an error naming the limit and the line and column where it stopped. The stop is sticky: CEL's
 * `all`, `exists`, `&&` and `||` absorb an error when another operand decides the result, so every later tick throws
 * again, and an evaluation that was stopped fails even when an absorbing operator made a value of it (fail closed).
 * `instrument` also puts RE2 (regex.ts) behind `matches`.
 */
import { children, effective, where, type CelNode, type ComprehensionArgs, type EvaluateFn } from './cel-ast.ts';
import { re2Matches, re2MatchWork } from './regex.ts';

export const EVALUATION_BUDGET = { milliseconds: 50, steps: 1_000_000 } as const;

export interface Budget {
  milliseconds: number;
  steps: number;
}

/** The evaluation in progress (evaluation is synchronous, so there is at most one). */
let current: { deadline: number; stepsLeft: number; budget: Budget; stopped?: BudgetExceeded } | undefined;

export class BudgetExceeded extends Error {}

function tick(node: CelNode): void {
  if (current === undefined) return;
  if (current.stopped) throw current.stopped;
  if (--current.stepsLeft < 0) stop(node, `over its budget of ${current.budget.steps.toLocaleString('en')} steps`);
  if (performance.now() > current.deadline) stop(node, `over its time budget of ${current.budget.milliseconds} ms`);
}

function stop(node: CelNode, why: string): never {
  const { line, column } = where(node);
  const e = new BudgetExceeded(`evaluation stopped at line ${line}, column ${column}: ${why}`);
  if (current !== undefined) current.stopped = e;
  throw e;
}

/** Runs `evaluate` under `budget`; a nested call (a condition evaluated inside another) shares the outer budget. */
export function withBudget<T>(budget: Budget, evaluate: () => T): T {
  if (current !== undefined) return evaluate();
  current = { deadline: performance.now() + budget.milliseconds, stepsLeft: budget.steps, budget };
  try {
    const value = evaluate();
    if (current.stopped) throw current.stopped;
    return value;
  } finally {
    current = undefined;
  }
}

function ticking(node: CelNode): void {
  const inner: EvaluateFn = node.meta.evaluate;
  node.evaluate = function evaluateCounted(this: CelNode, ev, ast, ctx) {
    tick(node);
    return inner.call(this, ev, ast, ctx);
  };
}

/**
 * `matches` behind RE2, charged to the evaluation: one step per unit of its work (instructions × characters, about
 * as costly as a step), taken before it runs, and the clock read after it.
 */
function re2Handle(args: unknown, _evaluator: unknown, at: unknown): boolean {
  const [text, pattern] = args as unknown[];
  const node = at as CelNode;
  if (typeof text !== 'string' || typeof pattern !== 'string')
    throw new Error(`found no matching overload for matches(${typeof text}, ${typeof pattern})`);
  if (current !== undefined) {
    if (current.stopped) throw current.stopped;
    current.stepsLeft -= re2MatchWork(text, pattern);
    if (current.stepsLeft < 0) stop(node, `over its budget of ${current.budget.steps.toLocaleString('en')} steps`);
  }
  const matched = re2Matches(text, pattern);
  if (current !== undefined && performance.now() > current.deadline)
    stop(node, `over its time budget of ${current.budget.milliseconds} ms`);
  return matched;
}

/** Prepares a checked expression: ticks where work repeats, RE2 behind `matches`. */
export function instrument(ast: CelNode): void {
  const seen = new Set<CelNode>();
  const visit = (raw: CelNode): void => {
    const node = effective(raw);
    if (seen.has(node)) return;
    seen.add(node);
    const isCall = node.op === 'call' || node.op === 'rcall';
    if (node.op === 'rcall' && (node.args as unknown[])[0] === 'matches') node.handle = re2Handle;
    if (node.meta.macro === undefined && (isCall || node.op === 'comprehension')) ticking(node);
    if (node.op === 'comprehension') {
      const step = effective((node.args as ComprehensionArgs).step);
      if (step.meta.macro === undefined && !seen.has(step) && step.op !== 'comprehension') ticking(step);
    }
    children(node).forEach(visit);
  };
  visit(ast);
}
