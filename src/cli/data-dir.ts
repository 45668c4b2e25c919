/**
 * The data directory belongs to one process at a time and to its owner only. Two `hoist serve` on one embedded
 * database would each run their own copy of Postgres on the same files and silently lose each other's writes, so the
 * first takes a lock file (`hoist.lock`, holding its pid and start time) and a second one exits naming the holder. A
 * lock left by a process that died (no such pid, or the pid now belongs to a process started at another time) is
 * stale and taken over. The lock is created complete and atomically (written to a private file, then hard-linked
 * into place, which fails if the name exists), so a reader never sees a half-written one; no native module needed.
 *
 * Files hoist writes there (keys, the embedded database, checkpoints) hold secrets or evidence: directories 0700,
 * files 0600, including those an older hoist left readable.
 */
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Conflict } from '../errors.ts';

interface Holder {
  pid: number;
  /** The process's start time in clock ticks since boot (Linux), to tell a reused pid from the holder. */
  started: string | null;
}

function startTime(pid: number): string | null {
  try {
    // /proc/PID/stat: the command name (field 2) may hold spaces, so count fields after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(h: Holder): boolean {
  if (h.pid === process.pid) return false; // our own pid from an earlier life (pid 1 in a restarted container)
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const now = startTime(h.pid);
  return h.started === null || now === null || now === h.started;
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number'
      ? { pid: h.pid, started: typeof h.started === 'string' ? h.started : null }
      : undefined;
  } catch {
    return undefined;
  }
}

export interface DataDirLock {
  release(): void;
}

/** Takes the data directory's lock, or throws Conflict naming the process that holds it. */
export function lockDataDir(dir: string): DataDirLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'hoist.lock');
  const mine: Holder = { pid: process.pid, started: startTime(process.pid) };
  const tmp = join(dir, `hoist.lock.${process.pid}`);
  writeFileSync(tmp, `${JSON.stringify(mine)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, file);
        return {
          release: () => {
            if (readHolder(file)?.pid === process.pid) unlinkSync(file);
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = readHolder(file);
      if (holder !== undefined && alive(holder)) {
        throw new Conflict(
          `the data directory ${dir} is in use by another hoist (pid ${holder.pid}); stop it first, or give this one another --data-dir`,
        );
      }
      try {
        unlinkSync(file); // stale: its process is gone
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    throw new Conflict(`could not take the lock ${file}; another hoist is starting at the same time`);
  } finally {
    unlinkSync(tmp);
  }
}

/** Makes the directory and everything under it readable by its owner only (0700 directories, 0600 files). */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const walk = (path: string): void => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      if ((st.mode & 0o077) !== 0 || (st.mode & 0o700) !== 0o700) chmodSync(path, 0o700);
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if ((st.mode & 0o077) !== 0) {
      chmodSync(path, st.mode & 0o700);
    }
  };
  walk(dir);
}
