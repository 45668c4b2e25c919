import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { sha256Digest, VerifyingStream } from '../../src/oci/digest.ts';
import { DigestMismatch } from '../../src/errors.ts';

function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

async function run(data: Buffer, expected: { digest: string; size: number }): Promise<Buffer> {
  const received: Buffer[] = [];
  await pipeline(
    Readable.from(chunks(data, 1000)),
    new VerifyingStream(expected, 'blob'),
    new Writable({ write: (c: Buffer, _e, cb) => (received.push(c), cb()) }),
  );
  return Buffer.concat(received);
}

test('a verifying stream passes correct content through unchanged', async () => {
  const data = randomBytes(10_000);
  assert.deepEqual(await run(data, { digest: sha256Digest(data), size: data.length }), data);
});

test('a digest mismatch fails, and the consumer never sees the last chunk', async () => {
  const data = randomBytes(10_000);
  const received: Buffer[] = [];
  const corrupt = Buffer.from(data);
  corrupt[5000] = (corrupt[5000] ?? 0) ^ 0xff;
  await assert.rejects(
    pipeline(
      Readable.from(chunks(corrupt, 1000)),
      new VerifyingStream({ digest: sha256Digest(data), size: data.length }, 'blob'),
      new Writable({ write: (c: Buffer, _e, cb) => (received.push(c), cb()) }),
    ),
    DigestMismatch,
  );
  assert.ok(Buffer.concat(received).length < data.length);
});

test('too many or too few bytes fail with the sizes named', async () => {
  const data = randomBytes(3000);
  await assert.rejects(run(data, { digest: sha256Digest(data), size: 2000 }), /more than 2000 bytes/);
  await assert.rejects(run(data, { digest: sha256Digest(data), size: 4000 }), /expected 4000 bytes, got 3000 bytes/);
});
