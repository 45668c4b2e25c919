/**
 * The image's tar writer (scripts/image-tar.ts): the same entries give the same bytes whatever the files' times on
 * disk; GNU tar reads what it writes, long paths (PAX headers), owners, modes and symlinks included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withParents } from '../../scripts/image-rootfs.ts';
import { gzipLayer, tarLayer, type TarEntry } from '../../scripts/image-tar.ts';

test('a layer is the same bytes from the same entries, and GNU tar reads it as written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-image-tar-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, 'from a file\n');
    const long = `app/node_modules/${'deep/'.repeat(30)}file.js`;
    const entries: TarEntry[] = withParents([
      { type: 'file', path: '/etc/passwd', mode: 0o644, content: Buffer.from('root:x:0:0::/:/sbin/nologin\n') },
      { type: 'dir', path: '/var/lib/hoist', mode: 0o700, uid: 10001, gid: 10001 },
      { type: 'file', path: long, mode: 0o755, content: { from: file } },
      { type: 'symlink', path: '/lib64', target: 'usr/lib64' },
    ]);
    const first = gzipLayer(tarLayer(entries, 1_700_000_000));
    utimesSync(file, new Date(), new Date()); // a file touched since: the layer does not change
    const second = gzipLayer(tarLayer(entries, 1_700_000_000));
    assert.equal(second.digest, first.digest);
    assert.notEqual(gzipLayer(tarLayer(entries, 1_700_000_001)).digest, first.digest, 'the time is in it');

    const layer = join(dir, 'layer.tar.gz');
    writeFileSync(layer, first.blob);
    const listing = execFileSync('tar', ['-tvzf', layer, '--numeric-owner', '--full-time'], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    });
    assert.match(listing, /^drwx------ 10001\/10001 +0 2023-11-14 22:13:20 var\/lib\/hoist\/$/m);
    assert.match(listing, new RegExp(`^-rwxr-xr-x 0/0 +12 .* ${long}$`, 'm'));
    assert.match(listing, /^lrwxrwxrwx 0\/0 +0 .* lib64 -> usr\/lib64$/m);
    assert.match(listing, /^drwxr-xr-x 0\/0 +0 .* app\/$/m, 'parent directories added');
    execFileSync('tar', ['-xzf', layer, '-C', dir]);
    assert.equal(execFileSync('cat', [join(dir, long)], { encoding: 'utf8' }), 'from a file\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
