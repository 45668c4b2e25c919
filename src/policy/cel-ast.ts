/**
 * The parts of @marcbachmann/cel-js's checked syntax tree that hoist reads to estimate an expression's cost and to
 * instrument its evaluation (see cost.ts and budget.ts). They are internals of the library, not its typed API, so
 * they are named here once, for the exact version package.json pins; the policy tests fail if a new version moves
 * them (a catastrophic regex would backtrack again, a nested comprehension would no longer be refused).
 */

export interface CelNode {
  op: string;
  args: unknown;
  start: number;
  input: string;
  readonly meta: { alternate?: CelNode; macro?: unknown; evaluate: EvaluateFn };
  checkedType?: { kind?: string; name?: string };
  /** Set by the type checker on calls: the function that receives the evaluated receiver and arguments. */
  handle?: (...args: unknown[]) => unknown;
  evaluate: EvaluateFn;
}

export type EvaluateFn = (this: CelNode, ev: unknown, ast: CelNode, ctx: unknown) => unknown;

export interface ComprehensionArgs {
  kind?: string;
  iterable: CelNode;
  init: CelNode;
  step: CelNode;
}

const isNode = (v: unknown): v is CelNode =>
  typeof v === 'object' && v !== null && 'op' in v && 'meta' in v && typeof (v as CelNode).op === 'string';

/** The node evaluation really runs: a macro call such as `.all(x, …)` is replaced by its comprehension. */
export function effective(node: CelNode): CelNode {
  let n = node;
  for (let i = 0; i < 8 && n.meta.alternate; i++) n = n.meta.alternate;
  return n;
}

/** The child nodes of an (effective) node, in source order. */
export function children(node: CelNode): CelNode[] {
  if (node.op === 'comprehension') {
    const c = node.args as ComprehensionArgs;
    return [c.iterable, c.init, c.step].filter(isNode);
  }
  const out: CelNode[] = [];
  const visit = (v: unknown): void => {
    if (isNode(v)) out.push(v);
    else if (Array.isArray(v)) v.forEach(visit);
  };
  visit(node.args);
  return out;
}

/** Line and column (1-based) of a node in its expression. */
export function where(node: CelNode): { line: number; column: number } {
  const before = node.input.slice(0, Math.max(0, node.start));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}
