/**
 * For the benchmarks: a Kysely plugin that counts the SQL statements a server sends (BEGIN and COMMIT are not seen by
 * plugins, so a transaction's two extra round trips are not counted) and the time each took, by kind and first table
 * named (`select artifacts`, `update promotion_targets`, `raw push_events`; with BENCH_SQL_WHERE=1 also by caller).
 * `withCounter(database)` answers a copy of the database whose queries are counted; `snapshot()` and `diff()` give the
 * statements of one phase of a benchmark.
 */
import type { KyselyPlugin, OperationNode, PluginTransformQueryArgs, PluginTransformResultArgs } from 'kysely';
import type { Database } from '../src/store/database.ts';

export interface SqlCount {
  count: number;
  ms: number;
}

export type SqlCounts = Record<string, SqlCount>;

function firstTable(node: unknown, depth = 0): string | undefined {
  if (node === null || typeof node !== 'object' || depth > 12) return undefined;
  const n = node as { kind?: string; table?: { identifier?: { name?: string } } };
  if (n.kind === 'TableNode' && n.table?.identifier?.name) return n.table.identifier.name;
  for (const value of Object.values(node)) {
    const found = Array.isArray(value)
      ? value.map((v) => firstTable(v, depth + 1)).find((x) => x !== undefined)
      : firstTable(value, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function label(node: OperationNode): string {
  const kind = node.kind.replace(/QueryNode$|Node$/, '').toLowerCase();
  const table = firstTable(node);
  if (table !== undefined) return `${kind} ${table}`;
  if (node.kind === 'RawNode') {
    const text = (node as unknown as { sqlFragments: readonly string[] }).sqlFragments.join('?');
    return `raw ${text.trim().replace(/\s+/g, ' ').slice(0, 40)}`;
  }
  return kind;
}

const WHERE = process.env.BENCH_SQL_WHERE === '1';

function callers(stack: string): string {
  return stack
    .split('\n')
    .filter((f) => f.includes('/src/') && !f.includes('/src/store/'))
    .slice(0, 3)
    .map((f) =>
      f
        .replace(/.*\/src\//, '')
        .replace(/:\d+\)?$/, '')
        .replace(/^\s*at /, ''),
    )
    .join(' < ');
}

export class SqlCounter implements KyselyPlugin {
  readonly counts: SqlCounts = {};
  private readonly started = new WeakMap<object, { label: string; at: number }>();

  transformQuery(args: PluginTransformQueryArgs): ReturnType<KyselyPlugin['transformQuery']> {
    let l = label(args.node);
    // BENCH_SQL_WHERE=1: each label also names the first three callers outside src/store (run Node with
    // --stack-trace-limit=60 to see through the awaits), to tell which part of the server sent the statements.
    if (WHERE) l += ` <- ${callers(new Error().stack ?? '')}`;
    this.started.set(args.queryId, { label: l, at: performance.now() });
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): ReturnType<KyselyPlugin['transformResult']> {
    const s = this.started.get(args.queryId);
    if (s) {
      const c = (this.counts[s.label] ??= { count: 0, ms: 0 });
      c.count++;
      c.ms += performance.now() - s.at;
    }
    return args.result;
  }

  snapshot(): SqlCounts {
    return structuredClone(this.counts);
  }

  /** The statements since `before`, most frequent first. */
  diff(before: SqlCounts): Array<{ statement: string; count: number; ms: number }> {
    return Object.entries(this.counts)
      .map(([statement, c]) => ({
        statement,
        count: c.count - (before[statement]?.count ?? 0),
        ms: Math.round(c.ms - (before[statement]?.ms ?? 0)),
      }))
      .filter((x) => x.count > 0)
      .sort((a, b) => b.count - a.count);
  }
}

/** A copy of the database whose statements `counter` sees. */
export function withCounter(database: Database, counter: SqlCounter): Database {
  return { ...database, db: database.db.withPlugin(counter) };
}

/** The total of a diff. */
export const totalStatements = (d: ReadonlyArray<{ count: number }>): number => d.reduce((s, x) => s + x.count, 0);
