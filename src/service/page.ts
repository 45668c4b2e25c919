/** Cursor pagination for name-ordered lists: `cursor` is the last name of the previous page, `q` filters by substring. */
import { PAGE_DEFAULT, PAGE_MAX, type PageQuery } from '../store/paged.ts';

export { PAGE_DEFAULT, PAGE_MAX, paged, type PageQuery } from '../store/paged.ts';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function toPage<T>(rows: T[], p: PageQuery, name: (t: T) => string): Page<T> {
  const limit = Math.min(p.limit ?? PAGE_DEFAULT, PAGE_MAX);
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? name(items[items.length - 1] as T) : null };
}
