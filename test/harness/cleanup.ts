// Last-resort cleanup for everything the harness starts: child process ids and temporary directories are tracked
// here, and when the test process exits without having stopped them (a failed test, a forgotten `after()`), the
// 'exit' handler kills the processes and removes the directories synchronously. Normal shutdown goes through each
// fixture's own `stop()`, which untracks what it cleaned up. A test process killed outright cannot clean up, so each
// temporary directory records its owner's pid and later runs sweep the directories whose owner is gone.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const processes = new Set<number>();
const directories = new Set<string>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', () => {
    for (const pid of processes) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of directories) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // nothing more we can do while exiting
      }
    }
  });
}

export function trackProcess(pid: number): void {
  install();
  processes.add(pid);
}

export function untrackProcess(pid: number): void {
  processes.delete(pid);
}

export function trackDirectory(dir: string): void {
  install();
  directories.add(dir);
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
}

export function untrackDirectory(dir: string): void {
  directories.delete(dir);
}

const OWNER_FILE = 'owner.pid';
const swept = new Set<string>();

/** Removes `parent/prefix*` directories left by test processes that died without cleaning up (once per process). */
export function sweepStaleDirectories(parent: string, prefix: string): void {
  const key = join(parent, prefix);
  if (swept.has(key)) return;
  swept.add(key);
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(parent, name);
    try {
      const owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // no owner file (being created, or not ours): leave it alone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
