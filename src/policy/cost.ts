/**
 * A compile-time cost limit for CEL conditions, in the manner of Kubernetes' CEL cost estimator: every node costs 1,
 * a comprehension (`all`, `exists`, `map`, `filter`, …) costs its body times the largest size its list can have, so
 * nested comprehensions multiply, and `in` on a list costs the list's size. Lists and maps whose size cannot be seen
 * in the expression (the policy variables, a comprehension's element) are assumed to hold up to ASSUMED_SIZE entries.
 * An expression over a limit is refused before it is ever saved or run, with the limit named and the position of the
 * smallest part of the expression that is over it. The evaluation budget (budget.ts) still guards what an estimate
 * cannot see.
 */
import { children, effective, type CelNode, type ComprehensionArgs } from './cel-ast.ts';

export const COST_LIMITS = {
  /** Estimated evaluation steps (Kubernetes allows 1,000,000 per expression too). */
  maxCost: 1_000_000,
  /** Comprehensions inside comprehensions. */
  maxComprehensionNesting: 3,
  /** Nested sub-expressions. */
  maxDepth: 48,
} as const;

/** Entries assumed for a list or map whose size the expression does not show. */
export const ASSUMED_SIZE = 1000;

export interface CostProblem {
  /** Where in the expression the part over the limit starts. */
  offset: number;
  message: string;
}

interface Estimate {
  cost: number;
  /** Largest number of entries (lists and maps) the value can have. */
  size: number;
}

const isCollection = (node: CelNode): boolean => {
  const kind = node.checkedType?.kind;
  return kind === 'list' || kind === 'map';
};

class Estimator {
  problem: CostProblem | undefined;

  private fail(node: CelNode, message: string): void {
    this.problem ??= { offset: node.start, message };
  }

  estimate(raw: CelNode, depth: number, nesting: number): Estimate {
    const node = effective(raw);
    if (depth > COST_LIMITS.maxDepth) {
      this.fail(node, `the expression is nested more than ${COST_LIMITS.maxDepth} levels deep`);
      return { cost: 1, size: 0 };
    }
    const result =
      node.op === 'comprehension' ? this.comprehension(node, depth, nesting) : this.plain(node, depth, nesting);
    if (result.cost > COST_LIMITS.maxCost)
      this.fail(
        node,
        `the estimated cost ${Math.round(result.cost).toLocaleString('en')} is over the limit of ` +
          `${COST_LIMITS.maxCost.toLocaleString('en')} (each comprehension multiplies the cost of its body by the ` +
          `size of its list; lists of unknown size count as ${ASSUMED_SIZE})`,
      );
    return result;
  }

  private comprehension(node: CelNode, depth: number, nesting: number): Estimate {
    if (nesting >= COST_LIMITS.maxComprehensionNesting)
      this.fail(node, `comprehensions are nested more than ${COST_LIMITS.maxComprehensionNesting} deep`);
    const args = node.args as ComprehensionArgs;
    const iterable = this.estimate(args.iterable, depth + 1, nesting);
    const init = this.estimate(args.init, depth + 1, nesting);
    const step = this.estimate(args.step, depth + 1, nesting + 1);
    return { cost: 1 + iterable.cost + init.cost + iterable.size * (step.cost + 1), size: iterable.size };
  }

  private plain(node: CelNode, depth: number, nesting: number): Estimate {
    const parts = children(node).map((c) => this.estimate(c, depth + 1, nesting));
    let cost = 1 + parts.reduce((sum, p) => sum + p.cost, 0);
    const sizes = parts.map((p) => p.size);
    let size = 0;
    switch (node.op) {
      case 'list':
      case 'map':
        size = parts.length;
        break;
      case '+':
        size = sizes.reduce((a, b) => a + b, 0);
        break;
      case 'in':
        cost += sizes[1] ?? 0;
        break;
      case '?:':
        size = Math.max(sizes[1] ?? 0, sizes[2] ?? 0);
        break;
      default:
        size = isCollection(node) ? ASSUMED_SIZE : 0;
    }
    return { cost, size };
  }
}

/** The first cost limit `ast` (checked) is over, with where, or undefined when it is within every limit. */
export function costProblem(ast: CelNode): CostProblem | undefined {
  const estimator = new Estimator();
  estimator.estimate(ast, 0, 0);
  return estimator.problem;
}

/** The estimated cost of a checked expression (for tests and messages). */
export function estimatedCost(ast: CelNode): number {
  return new Estimator().estimate(ast, 0, 0).cost;
}
