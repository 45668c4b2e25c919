/**
 * Cursor pagination for name-ordered lists, as the store applies it to a query: `cursor` is the last name of the
 * previous page, `q` filters by substring, and one extra row is fetched so the caller knows whether a page follows
 * (service/page.ts turns the rows into a page).
 */
import type { SelectQueryBuilder } from 'kysely';

export interface PageQuery {
  cursor?: string;
  limit?: number;
  q?: string;
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
