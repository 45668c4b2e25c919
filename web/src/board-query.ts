/**
 * The board's query, shared by the board page and the entry (which starts the request while React is still loading
 * when the console is opened on a board: see early.ts).
 */
import type { components } from '../../src/client/openapi.ts';
import { api } from './api.ts';
import { earlyOr } from './early.ts';

export type BoardData = components['schemas']['Board'];

export const boardPath = (project: string): string => `/api/v1/projects/${encodeURIComponent(project)}/board`;

export const boardQuery = (project: string) => ({
  queryKey: ['board', project],
  queryFn: () => earlyOr(boardPath(project), () => api<BoardData>('GET', boardPath(project))),
});

/** The project of a board's URL (/projects/NAME), if `path` is one. */
export function boardProjectOf(path: string): string | undefined {
  const match = /^\/projects\/([^/]+)\/?$/.exec(path);
  try {
    return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
  } catch {
    return undefined; // A malformed escape: the router shows its own page for it.
  }
}
