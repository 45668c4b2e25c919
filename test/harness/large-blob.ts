// Streams a large pseudo-random blob into a registry without holding it in memory: POST to open an upload, one
// PATCH per chunk (8 MiB, with Content-Range, following the newest Location each time), then PUT ?digest= with an
// empty body. The digest is computed on the way, so a 1 GiB blob costs one chunk of memory.
import { createHash } from 'node:crypto';
import { MediaTypes } from './media-types.ts';
import type { TestBlob } from './images.ts';
import { pseudoRandomChunks } from './pseudo-random.ts';
import { RegistrySession, expectStatus, type Creds } from './registry-session.ts';

const CHUNK = 8 * 1024 * 1024;

/** The returned `data` is empty: the bytes were never kept. */
export async function pushLargeBlob(
  registryUrl: string,
  repo: string,
  size: number,
  opts: { creds?: Creds } = {},
): Promise<TestBlob & { data: Buffer }> {
  const session = new RegistrySession(registryUrl, repo, opts.creds);
  const start = await session.fetch(session.repoUrl('blobs/uploads/'), { method: 'POST' });
  await expectStatus(start, [202], `large-blob: POST upload in ${repo}`);
  await start.body?.cancel();
  let location = session.resolve(start.headers.get('location'), 'POST upload');
  const hash = createHash('sha256');
  let offset = 0;
  for (const chunk of pseudoRandomChunks(size, CHUNK)) {
    hash.update(chunk);
    const res = await session.fetch(location, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(chunk.length),
        'Content-Range': `${offset}-${offset + chunk.length - 1}`,
      },
      body: chunk,
    });
    await expectStatus(res, [202], `large-blob: PATCH bytes ${offset}+${chunk.length}`);
    await res.body?.cancel();
    location = session.resolve(res.headers.get('location'), 'PATCH');
    offset += chunk.length;
  }
  const digest = `sha256:${hash.digest('hex')}`;
  const sep = location.includes('?') ? '&' : '?';
  const put = await session.fetch(`${location}${sep}digest=${encodeURIComponent(digest)}`, {
    method: 'PUT',
    headers: { 'Content-Length': '0' },
  });
  await expectStatus(put, [201], `large-blob: PUT ${digest}`);
  await put.body?.cancel();
  return { digest, size, mediaType: MediaTypes.ociLayer, data: Buffer.alloc(0) };
}
