/** Cursor pagination for name-ordered lists: `cursor` is the last name of the previous page, `q` filters by substring. */
import type { SelectQueryBuilder } from 'kysely';

export interface PageQuery {
  cursor?: string;
  limit?: number;
  q?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const PAGE_DEFAULT = 100;
export const PAGE_MAX = 1000;

/** Applies the query to a builder ordered by `column`, fetching one extra row to know whether a page follows. */
export function paged<DB, TB extends keyof DB, O>(
  qb: SelectQueryBuilder<DB, TB, O>,
  column: string,
  p: PageQuery,
): SelectQueryBuilder<DB, TB, O> {
  let q = qb.orderBy(column as never).limit(Math.min(p.limit ?? PAGE_DEFAULT, PAGE_MAX) + 1);
  if (p.cursor !== undefined) q = q.where(column as never, '>', p.cursor as never);
  if (p.q !== undefined && p.q !== '')
    q = q.where(column as never, 'like', `%${p.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` as never);
  return q;
}

export function toPage<T>(rows: T[], p: PageQuery, name: (t: T) => string): Page<T> {
  const limit = Math.min(p.limit ?? PAGE_DEFAULT, PAGE_MAX);
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? name(items[items.length - 1] as T) : null };
}
