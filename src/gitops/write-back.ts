/**
 * One write-back, carried out with git in a fresh temporary clone: fetch the branch (shallow), plan the edit of the
 * file(s) at the path (./yaml-edit.ts), and when something changes, commit as hoist and push. A push refused because
 * the branch moved (someone pushed between our fetch and our push) is met by fetching again and re-applying the edit
 * on the new tip — the edit is a function of the file, so re-applying is the rebase — a few times with jittered
 * pauses; if the branch keeps moving, the job fails transiently and the queue retries it later. A push refused by the
 * server itself (a hook, a protected branch, no permission) is permanent, with git's own message. If the file already
 * names the digest there is no commit: a retry after a crash between push and record never commits twice.
 *
 * `mode: 'branch'` pushes a new branch per promotion, from the branch's tip, for review; when that branch exists
 * already (a retry), it is the base, so the retry finds its own commit and does nothing.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { git, GitFailed, type GitOptions } from './git.ts';
import type { Remote } from './remote.ts';
import { editFile, type EditChange, type EditSpec } from './yaml-edit.ts';

export interface WriteBackInput {
  remote: Remote;
  /** The branch to update (mode push) or to start from (mode branch). */
  branch: string;
  mode: 'push' | 'branch';
  /** mode branch: the branch to push. */
  reviewBranch?: string;
  /** A file, or for edit manifests a directory (every .yaml/.yml file under it), relative to the repository root. */
  path: string;
  spec: EditSpec;
  message: string;
  author?: { name: string; email: string };
  signal?: AbortSignal;
  /** Per git call (default 60 s). */
  timeoutMs?: number;
  /** Fetch-edit-push rounds before giving the job back to the queue (default 4). */
  rounds?: number;
  /** Pause between rounds: up to this long × the round number, randomly (default 200 ms). */
  jitterMs?: number;
}

export interface WriteBackResult {
  /** The commit the branch names now (ours, or the tip that already named the digest). */
  commit: string;
  /** The branch pushed (the review branch in mode branch). */
  branch: string;
  /** Whether hoist made a commit (false: the file already named the digest). */
  committed: boolean;
  rounds: number;
  changes: EditChange[];
}

/** A write-back that cannot succeed as things are (`transient: false`), or may later (`transient: true`). */
export class WriteBackFailed extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'WriteBackFailed';
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });

/** The remote's own words, from git's output ("remote: …" lines and the reason in brackets). */
function remoteMessage(e: GitFailed): string {
  const lines = `${e.stderr}\n${e.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^remote:|\[remote rejected\]|\[rejected\]|^error:|^fatal:/.test(l) || l.startsWith('!'));
  return [...new Set(lines)].join('; ') || e.message;
}

/** Whether a failed git call is worth another attempt later (the server down) rather than never (refused). */
export function isTransientGitFailure(e: GitFailed): boolean {
  const text = `${e.stderr}\n${e.stdout}`;
  if (
    /Authentication failed|returned error: 40[134]|Permission denied|not found|does not appear to be a git/i.test(text)
  )
    return false;
  return /timed out|Could not resolve|Failed to connect|Connection refused|Connection reset|returned error: 5\d\d|early EOF|unexpected disconnect|aborted/i.test(
    text,
  );
}

async function filesUnder(root: string, path: string): Promise<string[]> {
  const full = join(root, path);
  const info = await stat(full).catch(() => undefined);
  if (!info) return [];
  if (info.isFile()) return [path];
  const out: string[] = [];
  for (const entry of await readdir(full, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const abs = join(entry.parentPath, entry.name);
    if (abs.split(sep).includes('.git')) continue;
    out.push(relative(root, abs));
  }
  return out.sort();
}

/** The files to edit and their new text; an empty list when everything already names the digest. */
async function planEdits(
  root: string,
  input: WriteBackInput,
): Promise<{ writes: Array<[string, string]>; changes: EditChange[] }> {
  let files = await filesUnder(root, input.path);
  if (files.length === 0) {
    // A kustomization or values file that does not exist yet is created; a manifests path must exist.
    if (input.spec.kind === 'manifests')
      throw new WriteBackFailed(`${input.path} does not exist on branch ${input.branch}`, false);
    files = [input.path];
  }
  if (
    input.spec.kind === 'kustomize' &&
    files.length === 1 &&
    (await stat(join(root, input.path)).catch(() => undefined))?.isDirectory()
  )
    files = [join(input.path, 'kustomization.yaml')];
  const writes: Array<[string, string]> = [];
  const changes: EditChange[] = [];
  for (const file of files) {
    const before = await readFile(join(root, file), 'utf8').catch(() => '');
    const r = editFile(before, input.spec);
    if (!r.ok) throw new WriteBackFailed(`${file}: ${r.error}`, false);
    if (r.text !== before) writes.push([file, r.text]);
    changes.push(...r.changes);
  }
  if (input.spec.kind === 'manifests' && changes.length === 0 && writes.length === 0) {
    const names = await Promise.all(
      files.map(async (f) => (await readFile(join(root, f), 'utf8')).includes(input.spec.digest)),
    );
    if (!names.some(Boolean))
      throw new WriteBackFailed(
        `no image: field under ${input.path} names ${input.spec.kind === 'manifests' ? input.spec.image : ''}`,
        false,
      );
  }
  return { writes, changes };
}

export async function writeBack(input: WriteBackInput): Promise<WriteBackResult> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-gitops-'));
  const { remote } = input;
  const author = input.author ?? { name: 'hoist', email: 'hoist@localhost' };
  const o: GitOptions = {
    cwd: dir,
    config: remote.config,
    env: {
      ...remote.env,
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email,
    },
    secrets: remote.secrets,
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}),
  };
  const target = input.mode === 'branch' ? (input.reviewBranch ?? `${input.branch}-hoist`) : input.branch;
  const rounds = input.rounds ?? 4;
  try {
    await git(['init', '-q', '-b', 'hoist-work'], o);
    for (let round = 1; ; round++) {
      const base = input.mode === 'branch' && (await remoteHas(remote.url, target, o)) ? target : input.branch;
      try {
        await git(['fetch', '-q', '--no-tags', '--depth=1', remote.url, `+refs/heads/${base}:refs/hoist/base`], o);
      } catch (e) {
        if (e instanceof GitFailed && /couldn't find remote ref/i.test(e.stderr))
          throw new WriteBackFailed(`branch ${base} does not exist in ${redact(remote.url)}`, false);
        throw e;
      }
      await git(['checkout', '-q', '--force', '-B', 'hoist-work', 'refs/hoist/base'], o);
      const { writes, changes } = await planEdits(dir, input);
      if (writes.length === 0) {
        const commit = (await git(['rev-parse', 'HEAD'], o)).trim();
        return { commit, branch: target, committed: false, rounds: round, changes };
      }
      for (const [file, text] of writes) await writeFile(join(dir, file), text);
      await git(['add', '--', ...writes.map(([f]) => f)], o);
      await git(['commit', '-q', '--no-verify', '-F', '-'], { ...o, input: input.message });
      const commit = (await git(['rev-parse', 'HEAD'], o)).trim();
      try {
        await git(['push', '--porcelain', remote.url, `HEAD:refs/heads/${target}`], o);
        return { commit, branch: target, committed: true, rounds: round, changes };
      } catch (e) {
        if (!(e instanceof GitFailed)) throw e;
        const text = `${e.stderr}\n${e.stdout}`;
        if (/\[remote rejected\]|pre-receive hook declined|protected branch/i.test(text))
          throw new WriteBackFailed(`push to ${target} refused by the server: ${remoteMessage(e)}`, false);
        if (!/\[rejected\]|non-fast-forward|fetch first|stale info/i.test(text)) throw e;
        if (round >= rounds)
          throw new WriteBackFailed(
            `branch ${target} kept moving: pushed ${round} times, each refused as behind`,
            true,
          );
        await sleep(Math.random() * (input.jitterMs ?? 200) * round, input.signal);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function remoteHas(url: string, branch: string, o: GitOptions): Promise<boolean> {
  const out = await git(['ls-remote', '--heads', url, `refs/heads/${branch}`], o);
  return out.trim() !== '';
}

/** A URL as it may be shown: without user names. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return url;
  }
}
