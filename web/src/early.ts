/**
 * Requests the console starts before its code has arrived. The entry (main.ts, a few hundred bytes) runs as soon as
 * the HTML is parsed: it asks for GET /me and, on a board's URL, for the board, while the browser is still loading
 * React and the screens (which index.html preloads). The queries then take these answers instead of asking again, so
 * nothing waits in a row: not the session check for the code, not the board for the session check.
 */
import { api } from './api.ts';

const started = new Map<string, Promise<unknown>>();

/** Starts GET `path` now; the first query asking for it takes the answer. */
export function startEarly(path: string): void {
  const answer = api('GET', path);
  answer.catch(() => undefined); // Looked at by whoever takes it; never an unhandled rejection.
  started.set(path, answer);
}

/**
 * The answer to GET `path` started at boot, once; otherwise (or when the early request failed: a 401 before signing
 * in, a blip) a fresh request. Later refetches always ask the server.
 */
export async function earlyOr<T>(path: string, ask: () => Promise<T>): Promise<T> {
  const early = started.get(path);
  started.delete(path);
  if (early !== undefined) {
    try {
      return (await early) as T;
    } catch {
      // Asked again below, now that the caller may be signed in.
    }
  }
  return ask();
}
