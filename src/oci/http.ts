/**
 * The slice of undici hoist uses: a keep-alive Agent and `request`. They are loaded from undici's own modules rather
 * than its index, which also loads fetch, WebSocket, caches and mocks: that halves undici's load time (about 60 ms to
 * about 27 ms measured here), and a short `hoist copy` is dominated by start-up. undici is pinned to an exact version
 * in package.json, so these paths cannot move under us. Loading the index would also install undici's Agent as the
 * global fetch dispatcher, which this avoids too.
 */
import type { Dispatcher } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import apiRequest from 'undici/lib/api/api-request.js';

export { Agent };
export type Response = Dispatcher.ResponseData;
export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher };

export function request(url: string, opts: RequestOptions): Promise<Response> {
  const u = new URL(url);
  const { dispatcher, ...rest } = opts;
  return apiRequest.call(dispatcher, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}` });
}
