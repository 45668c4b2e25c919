/**
 * Tag-list pagination through `Link: <...>; rel="next"`. Distribution 2.8 ignores `n` and answers everything in one
 * page, so a real registry cannot show this: a small HTTP fake pages the list as newer registries (and Docker Hub) do.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openRepository } from '../src/oci/registry.ts';
import { testHost } from './helpers/hosts.ts';

const ALL = Array.from({ length: 25 }, (_, i) => `v${String(i).padStart(2, '0')}`);
let server: Server;
let host: string;
const seen: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${url.pathname}${url.search}`);
    const n = Number(url.searchParams.get('n') ?? '10');
    const last = url.searchParams.get('last');
    const start = last === null ? 0 : ALL.indexOf(last) + 1;
    const page = ALL.slice(start, start + Math.min(n, 10));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (start + page.length < ALL.length)
      headers.link = `</v2/dev/web/tags/list?n=${n}&last=${page.at(-1)}>; rel="next"`;
    res.writeHead(200, headers).end(JSON.stringify({ name: 'dev/web', tags: page }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('every page of tags is followed and joined in order', async () => {
  const tags = await openRepository(testHost(host), 'dev/web').listTags();
  assert.deepEqual(tags, ALL);
  assert.deepEqual(seen, [
    '/v2/dev/web/tags/list?n=1000',
    '/v2/dev/web/tags/list?n=1000&last=v09',
    '/v2/dev/web/tags/list?n=1000&last=v19',
  ]);
});
