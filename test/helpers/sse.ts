/**
 * A server-sent-events client for tests: opens `GET url` over real HTTP (an in-process inject cannot stream), parses
 * events and comments as they arrive, and waits for an event that matches.
 */
import { request } from 'node:http';

export interface SseEvent {
  id: string | undefined;
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read event data field by field
  data: any;
}

export interface SseStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every event so far, in order. */
  events: SseEvent[];
  comments: string[];
  /** The JSON body of a refused stream. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body?: any;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  /** The first event (from the start) that matches, waiting up to `timeoutMs` for it. */
  waitFor(match: (e: SseEvent) => boolean, what: string, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      let endedResolve: () => void = () => {};
      const ended = new Promise<void>((r) => (endedResolve = r));
      const stream: SseStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        ended,
        waitFor: (match, what, timeoutMs = 15_000) =>
          new Promise((ok, fail) => {
            const check = (): boolean => {
              const found = events.find(match);
              if (!found) return false;
              waiters.delete(check);
              clearTimeout(timer);
              ok(found);
              return true;
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no event ${what} within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
            }, timeoutMs);
            if (!check()) waiters.add(check);
          }),
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        res.on('data', (chunk: string) => (buffer += chunk));
        res.on('end', () => {
          stream.body = buffer ? JSON.parse(buffer) : undefined;
          endedResolve();
          resolve(stream);
        });
        return;
      }
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else {
              const at = line.indexOf(':');
              if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, '');
            }
          }
          if (fields.data !== undefined)
            events.push({ id: fields.id, event: fields.event ?? 'message', data: JSON.parse(fields.data) });
        }
        for (const w of [...waiters]) w();
      });
      res.on('end', endedResolve);
      res.on('close', endedResolve);
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}
