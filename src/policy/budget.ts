/**
 * The evaluation budget of a user-written CEL condition: no single evaluation may hold the event loop for longer than
 * EVALUATION_BUDGET.milliseconds, nor take more than EVALUATION_BUDGET.steps steps, whatever the compile-time
 * estimate (cost.ts) missed. Evaluation is synchronous and the library has no step counter, so `instrument` wraps the
 * nodes where work repeats (every function call, every comprehension and the body of each comprehension) with a
 * tick; every TIME_CHECK_EVERY ticks the clock is read. Over budget, evaluation stops with an error naming the limit
 * and the line and column where it stopped. `instrument` also puts RE2 (regex.ts) behind `matches`.
 */
import { children, effective, where, type CelNode, type ComprehensionArgs, type EvaluateFn } from './cel-ast.ts';
import { re2Matches, re2MatchWork } from './regex.ts';

export const EVALUATION_BUDGET = { milliseconds: 50, steps: 1_000_000 } as const;
const TIME_CHECK_EVERY = 64;

export interface Budget {
  milliseconds: number;
  steps: number;
}

/** The evaluation in progress (evaluation is synchronous, so there is at most one). */
let current: { deadline: number; stepsLeft: number; budget: Budget } | undefined;

export class BudgetExceeded extends Error {}

function tick(node: CelNode): void {
  if (current === undefined) return;
  const left = --current.stepsLeft;
  if (left < 0) stop(node, `over its budget of ${current.budget.steps.toLocaleString('en')} steps`);
  if (left % TIME_CHECK_EVERY === 0 && performance.now() > current.deadline)
    stop(node, `over its time budget of ${current.budget.milliseconds} ms`);
}

function stop(node: CelNode, why: string): never {
  const { line, column } = where(node);
  throw new BudgetExceeded(`evaluation stopped at line ${line}, column ${column}: ${why}`);
}

/** Runs `evaluate` under `budget`; a nested call (a condition evaluated inside another) shares the outer budget. */
export function withBudget<T>(budget: Budget, evaluate: () => T): T {
  if (current !== undefined) return evaluate();
  current = { deadline: performance.now() + budget.milliseconds, stepsLeft: budget.steps, budget };
  try {
    return evaluate();
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
 * as costly as a step), taken before it runs, and the clock read after it (a match is too costly to wait for the next
 * TIME_CHECK_EVERY ticks: 64 matches in a comprehension would hold the loop for seconds between two readings).
 */
function re2Handle(args: unknown, _evaluator: unknown, at: unknown): boolean {
  const [text, pattern] = args as unknown[];
  const node = at as CelNode;
  if (typeof text !== 'string' || typeof pattern !== 'string')
    throw new Error(`found no matching overload for matches(${typeof text}, ${typeof pattern})`);
  if (current !== undefined) {
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
