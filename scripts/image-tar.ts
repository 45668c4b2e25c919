/**
 * A reproducible tar writer for image layers: the entries are given (path, type, mode, owner, content) rather than
 * read from a directory's metadata, so the bytes depend only on the content and the one fixed mtime. Ownership is
 * part of the entry (the data volume belongs to the image's user) without needing root to chown files on disk, and
 * GNU tar's defaults (user names, atimes, the builder's umask) never leak in. POSIX ustar headers, with a PAX
 * extended header for a path or link target that does not fit.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export type TarEntry =
  | { type: 'dir'; path: string; mode: number; uid?: number; gid?: number }
  | { type: 'file'; path: string; mode: number; uid?: number; gid?: number; content: Buffer | { from: string } }
  | { type: 'symlink'; path: string; target: string };

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(
  name: string,
  fields: { mode: number; uid: number; gid: number; size: number; mtime: number },
  typeflag: string,
  link = '',
): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(fields.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(fields.uid, 8), 108, 'ascii');
  h.write(octal(fields.gid, 8), 116, 'ascii');
  h.write(octal(fields.size, 12), 124, 'ascii');
  h.write(octal(fields.mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // the checksum counts its own field as spaces
  h.write(typeflag, 156, 'ascii');
  h.write(link, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest)];
}

/** A PAX record is `<length> <key>=<value>\n`, where the length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return `${length}${body}`;
}

const fits = (s: string): boolean => Buffer.byteLength(s) < 100 && /^[\x20-\x7e]*$/.test(s);

/** The layer's bytes: entries in the order given (callers sort them), two zero blocks at the end. */
export function tarLayer(entries: readonly TarEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const name = e.type === 'dir' ? `${e.path.replace(/\/$/, '')}/` : e.path;
    const link = e.type === 'symlink' ? e.target : '';
    const content =
      e.type === 'file' ? (Buffer.isBuffer(e.content) ? e.content : readFileSync(e.content.from)) : undefined;
    const fields = {
      mode: e.type === 'symlink' ? 0o777 : e.mode,
      uid: e.type === 'symlink' ? 0 : (e.uid ?? 0),
      gid: e.type === 'symlink' ? 0 : (e.gid ?? 0),
      size: content?.length ?? 0,
      mtime,
    };
    if (!fits(name) || !fits(link)) {
      const pax = Buffer.from(
        (fits(name) ? '' : paxRecord('path', name)) + (fits(link) ? '' : paxRecord('linkpath', link)),
        'utf8',
      );
      parts.push(header('PaxHeader', { mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime }, 'x'), ...padded(pax));
    }
    const typeflag = e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0';
    parts.push(header(name.slice(0, 99), fields, typeflag, link.slice(0, 99)));
    if (content !== undefined && content.length > 0) parts.push(...padded(content));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

export interface Layer {
  /** The gzipped tar: the blob. */
  blob: Buffer;
  digest: string;
  /** The uncompressed tar's digest (the image config's `rootfs.diff_ids`). */
  diffId: string;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Gzip without a name or time in its header (Node writes neither), so equal tars give equal blobs. Level 6 (gzip's and
 * Docker's default): on the Node binary layer it takes 3.9 s of CPU against 9.9 s at level 9 for a blob 0.3 % larger.
 */
export function gzipLayer(tar: Buffer): Layer {
  const blob = gzipSync(tar, { level: 6 });
  return { blob, digest: sha256(blob), diffId: sha256(tar) };
}

export { sha256 };
