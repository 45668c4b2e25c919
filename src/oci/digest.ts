/**
 * Content digests: parsing the `algorithm:hex` form hoist accepts (sha256 and sha512, lower-case hex of the exact
 * length), hashing bytes, and a stream stage that verifies digest and size while the bytes flow through it.
 */
import type * as Crypto from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatch, InvalidInput } from '../errors.ts';

import type { Result } from '../result.ts';

/**
 * node:crypto through require and on first use. Every command imports this module (references check digests), and an
 * ES import of node:crypto by name makes Node build the module's facade, which reads the lazy `webcrypto` export and
 * so loads and sets up WebCrypto: about 15 ms of CPU at every start-up, for nothing.
 */
const load = createRequire(import.meta.url);
let crypto: typeof Crypto | undefined;
const createHash = (algorithm: string): Hash => (crypto ??= load('node:crypto') as typeof Crypto).createHash(algorithm);

/**
 * Loads and sets up the hashing now rather than when the first manifest arrives (about 10 ms of CPU): the CLI's copy
 * calls it once its first requests are on their way, so the work overlaps their round trip.
 */
export function prepareDigests(): void {
  createHash('sha256');
}

const ALGORITHMS: Record<string, number> = { sha256: 64, sha512: 128 };

/**
 * A digest as hoist reads it from registries and events: sha256 or sha512, lower-case hex of the exact length. The
 * regular-expression source, for API schemas; code uses isDigest or checkDigest.
 */
export const DIGEST_PATTERN = '^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$';
/** A digest as a person names it to promote, pin or quarantine: `sha256:` and 64 lower-case hex digits, nothing else. */
export const SHA256_DIGEST_PATTERN = '^sha256:[0-9a-f]{64}$';
const DIGEST_RE = new RegExp(DIGEST_PATTERN);
const SHA256_DIGEST_RE = new RegExp(SHA256_DIGEST_PATTERN);
/** What a person is told when a sha256 digest is wrong. */
export const SHA256_DIGEST_HINT = 'sha256: followed by 64 lower-case hex digits';

export const isDigest = (s: string): boolean => DIGEST_RE.test(s);
export const isSha256Digest = (s: string): boolean => SHA256_DIGEST_RE.test(s);

/** A digest as a person names it (SHA256_DIGEST_PATTERN), or InvalidInput naming `where`. */
export function parseSha256Digest(d: string, where: string): string {
  if (!isSha256Digest(d))
    throw new InvalidInput(`"${d.slice(0, 100)}" is not a digest; use ${SHA256_DIGEST_HINT} (sha256:0123…cdef)`, where);
  return d;
}

/** Checks a digest string; the error says what is wrong with it. */
export function checkDigest(s: string): Result<string> {
  const colon = s.indexOf(':');
  if (colon < 0)
    return { ok: false, error: `"${s}" is not a digest: expected sha256: followed by 64 lower-case hex digits` };
  const alg = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  const len = ALGORITHMS[alg];
  if (len === undefined) return { ok: false, error: `unsupported digest algorithm "${alg}" (use sha256 or sha512)` };
  if (hex.length !== len || !/^[0-9a-f]+$/.test(hex)) {
    return {
      ok: false,
      error: `"${s}" is not a valid ${alg} digest: expected ${len} lower-case hex digits after "${alg}:"`,
    };
  }
  return { ok: true, value: s };
}

/** Like checkDigest, but throws InvalidInput naming `where`. */
export function parseDigest(s: string, where = 'digest'): string {
  const r = checkDigest(s);
  if (!r.ok) throw new InvalidInput(r.error, where);
  return r.value;
}

function hasherFor(digest: string): Hash {
  return createHash(digest.startsWith('sha512:') ? 'sha512' : 'sha256');
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The digest of `bytes` in the algorithm that `like` uses (a manifest fetched by sha512 is checked by sha512). */
export function digestLike(like: string, bytes: Uint8Array): string {
  const alg = like.startsWith('sha512:') ? 'sha512' : 'sha256';
  return `${alg}:${hasherFor(like).update(bytes).digest('hex')}`;
}

/**
 * Passes bytes through while hashing and counting them. It refuses more bytes than expected as soon as they arrive,
 * and it holds back the last chunk until the digest has been checked, so a consumer (an upload) never receives the
 * complete content of a blob that fails verification.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private held: Buffer | undefined;
  bytes = 0;

  constructor(
    private readonly expected: { digest: string; size: number },
    private readonly what: string,
    private readonly onBytes?: (n: number) => void,
  ) {
    // One socket read's worth: a deeper buffer only keeps chunks alive long enough to outlive a young-generation
    // collection, and then they wait for a full one (a 1 GiB copy held 10–20 MiB more at 1 MiB).
    super({ highWaterMark: 64 << 10 });
    this.hash = hasherFor(expected.digest);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expected.size) {
      cb(
        new DigestMismatch(`${this.what} size`, `${this.expected.size} bytes`, `more than ${this.expected.size} bytes`),
      );
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    const previous = this.held;
    this.held = chunk;
    cb(null, previous);
  }

  override _flush(cb: TransformCallback): void {
    if (this.bytes !== this.expected.size) {
      cb(new DigestMismatch(`${this.what} size`, `${this.expected.size} bytes`, `${this.bytes} bytes`));
      return;
    }
    const actual = `${this.expected.digest.slice(0, this.expected.digest.indexOf(':'))}:${this.hash.digest('hex')}`;
    if (actual !== this.expected.digest) {
      cb(new DigestMismatch(this.what, this.expected.digest, actual));
      return;
    }
    cb(null, this.held);
  }
}
