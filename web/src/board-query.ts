/**
 * The board's query, shared by the board page and the entry (which starts it while /me is still being asked when the
 * console is opened on a board: the board's answer and its code then load beside the session check, not after it).
 */
import type { components } from '../../src/client/openapi.ts';
import { api } from './api.ts';

export type BoardData = components['schemas']['Board'];

export const boardQuery = (project: string) => ({
  queryKey: ['board', project],
  queryFn: () => api<BoardData>('GET', `/api/v1/projects/${encodeURIComponent(project)}/board`),
});

/** The project of a board's URL (/projects/NAME), if `path` is one. */
export function boardProjectOf(path: string): string | undefined {
  const match = /^\/projects\/([^/]+)\/?$/.exec(path);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}
