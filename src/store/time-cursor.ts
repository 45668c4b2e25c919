/**
 * Keyset paging for lists ordered newest first (promotion requests, history, push events): the cursor is the
 * (time, id) of the last row of a page, opaque to callers (base64url), and the next page is the rows strictly
 * before it in (time desc, id desc) order. Rows added meanwhile never shift a page, as an offset would; the answer
 * is `{items, nextCursor}` with nextCursor null on the last page, as the name-ordered lists (src/service/page.ts)
 * and the audit log answer.
 */
import { sql, type RawBuilder } from 'kysely';
import { InvalidInput } from '../errors.ts';

export interface TimeCursor {
  at: Date;
  id: string;
}

export const LIST_DEFAULT = 100;
export const LIST_MAX = 1000;

export function encodeCursor(c: TimeCursor): string {
  return Buffer.from(`${c.at.toISOString()}|${c.id}`, 'utf8').toString('base64url');
}

/** The cursor a caller sent back, or InvalidInput naming `cursor`. */
export function decodeCursor(cursor: string): TimeCursor {
  const text = /^[A-Za-z0-9_-]{1,400}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const bar = text.indexOf('|');
  const at = new Date(text.slice(0, bar));
  const id = text.slice(bar + 1);
  if (bar < 0 || Number.isNaN(at.getTime()) || id === '')
    throw new InvalidInput('not a cursor hoist gave out (send the nextCursor of the previous page)', 'cursor');
  return { at, id };
}

/** `(time, id) < (cursor)`: the rows after the cursor in newest-first order. */
export function olderThan(timeColumn: string, idColumn: string, c: TimeCursor): RawBuilder<boolean> {
  return sql<boolean>`(${sql.ref(timeColumn)}, ${sql.ref(idColumn)}) < (${c.at}, ${c.id})`;
}

/** The page size asked for, within bounds. */
export const pageSize = (limit: number | undefined): number => Math.min(Math.max(limit ?? LIST_DEFAULT, 1), LIST_MAX);

/** Cuts the one extra row fetched (limit + 1) and answers the cursor of the next page, if there is one. */
export function pageOf<T>(
  rows: T[],
  limit: number,
  key: (row: T) => TimeCursor,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null };
}
