/**
 * Server-sent events on a raw Node response: the `text/event-stream` framing (an `id:` line only for events that can
 * be resumed, `event:` and one `data:` line of JSON; comments for heartbeats) and a sink that refuses to buffer
 * without bound for a client that does not read (the stream is closed; the client resumes by Last-Event-ID).
 */
import type { ServerResponse } from 'node:http';
import type { StreamSink } from '../service/live-events.service.ts';

/** A client more than this far behind is dropped rather than buffered for. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export function sseEvent(e: { id?: number; type: string; data: unknown }): string {
  // JSON.stringify writes no raw line breaks, so one data line carries the whole event.
  return `${e.id === undefined ? '' : `id: ${e.id}\n`}event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** Starts the response (200, no caching, no proxy buffering) and answers the sink that writes to it. */
export function sseSink(res: ServerResponse, headers: Record<string, string>, retryMs = 3000): StreamSink {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`retry: ${retryMs}\n\n`);
  const write = (chunk: string): boolean => {
    if (res.writableEnded || res.destroyed) return false;
    res.write(chunk);
    return res.writableLength <= MAX_BUFFERED_BYTES;
  };
  return {
    event: (e) => write(sseEvent(e)),
    comment: (text) => write(sseComment(text)),
    end: () => {
      if (!res.writableEnded) res.end();
    },
  };
}
