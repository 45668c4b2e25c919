/**
 * Long lists from the command line (`hoist history`, `requests`, `events`): the server answers a page and a cursor
 * to the next; the CLI follows the cursors up to `--limit N` rows (100 unless told) or every row with `--all`, and
 * when it stops before the end it says so on stderr, so a script piping stdout never mistakes a first page for all.
 */
import { InvalidInput } from '../errors.ts';

export const CLI_LIST_DEFAULT = 100;
/** Rows asked for per request: the server's most. */
const PAGE = 1000;

export interface ListFlags {
  limit?: string;
  all?: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** How many rows to show: `--all` (no bound), `--limit N`, or the default. */
export function rowsWanted(f: ListFlags): number {
  if (f.all) {
    if (f.limit !== undefined) throw new InvalidInput('give --limit or --all, not both', '--limit');
    return Number.POSITIVE_INFINITY;
  }
  if (f.limit === undefined) return CLI_LIST_DEFAULT;
  const n = Number(f.limit);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidInput(`"${f.limit}" is not a whole number of 1 or more`, '--limit');
  return n;
}

/**
 * Follows the cursors until `wanted` rows (or the end); answers the rows and whether more exist. `filter` drops rows
 * the server cannot filter (they do not count towards `wanted`).
 */
export async function follow<T>(
  page: (q: { limit: number; cursor?: string }) => Promise<Page<T>>,
  wanted: number,
  filter: (item: T) => boolean = () => true,
): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const p = await page({ limit: Math.min(PAGE, Math.max(wanted - items.length, 1)), ...(cursor ? { cursor } : {}) });
    for (const item of p.items) {
      if (!filter(item)) continue;
      if (items.length === wanted) return { items, more: true };
      items.push(item);
    }
    if (p.nextCursor === null) return { items, more: false };
    if (items.length >= wanted) return { items, more: true };
    cursor = p.nextCursor;
  }
}

/** The stderr note when a list stopped before its end. */
export function noteMore(shown: number, more: boolean): void {
  if (more) process.stderr.write(`showing ${shown} of more; use --limit N or --all for more\n`);
}
