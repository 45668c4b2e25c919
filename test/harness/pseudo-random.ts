// Pseudo-random bytes in bounded memory: an AES-128-CTR keystream under a random key, handed out chunk by chunk.
// It is several times faster than crypto.randomBytes, which matters when a test streams a gigabyte.
import { createCipheriv, randomBytes } from 'node:crypto';

export function* pseudoRandomChunks(total: number, chunkSize = 8 * 1024 * 1024): Generator<Buffer> {
  if (!Number.isSafeInteger(total) || total < 0) throw new Error(`pseudo-random: bad size ${total}`);
  const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(Math.min(chunkSize, total));
  for (let offset = 0; offset < total; offset += chunkSize) {
    const n = Math.min(chunkSize, total - offset);
    yield cipher.update(zeros.subarray(0, n));
  }
}
