/**
 * Real Git remotes for the GitOps tests: bare repositories made with the git binary, served over smart HTTP by
 * `git http-backend` behind a tiny node:http CGI bridge on loopback (with a token check: Basic auth whose password is
 * the token), and helpers that act as a second person (clone, commit, push), read files at a branch tip and install
 * a refusing pre-receive hook. `beforeReceive` runs before the server answers a push's ref advertisement, so a test
 * can push to the branch between hoist's fetch and hoist's push.
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/nonexistent',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'someone',
  GIT_AUTHOR_EMAIL: 'someone@example.test',
  GIT_COMMITTER_NAME: 'someone',
  GIT_COMMITTER_EMAIL: 'someone@example.test',
};

export function gitCli(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/git', args, { cwd, env: GIT_ENV }, (err, stdout, stderr) =>
      err ? reject(new Error(`git ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
    ),
  );
}

export interface GitRepos {
  root: string;
  /** Makes `<name>.git` (bare, pushes over HTTP allowed) with these files committed on `branch`. */
  create(name: string, files: Record<string, string>, branch?: string): Promise<string>;
  /** A file's text at the branch tip. */
  show(name: string, branch: string, file: string): Promise<string>;
  /** Commits `files` on `branch` as another person and pushes it (the second actor). */
  pushAs(name: string, branch: string, files: Record<string, string>, message?: string): Promise<void>;
  /** `git log --format=%an|%s` of the branch, newest first. */
  log(name: string, branch: string, format?: string): Promise<string[]>;
  /** Installs a pre-receive hook that prints `message` and exits with `code` (1: refuses every push). */
  refuseWith(name: string, message: string, code?: number): Promise<void>;
  close(): Promise<void>;
}

export async function gitRepos(): Promise<GitRepos> {
  const root = await mkdtemp(join(tmpdir(), 'hoist-git-'));
  const bare = (name: string) => join(root, `${name}.git`);
  async function pushAs(name: string, branch: string, files: Record<string, string>, message = 'change') {
    const work = await mkdtemp(join(tmpdir(), 'hoist-git-work-'));
    try {
      await gitCli(['clone', '-q', '-b', branch, bare(name), work], root);
      for (const [file, text] of Object.entries(files)) {
        await mkdir(dirname(join(work, file)), { recursive: true });
        await writeFile(join(work, file), text);
      }
      await gitCli(['add', '-A'], work);
      await gitCli(['commit', '-q', '-m', message], work);
      await gitCli(['push', '-q', 'origin', `HEAD:refs/heads/${branch}`], work);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  return {
    root,
    async create(name, files, branch = 'main') {
      await gitCli(['init', '-q', '--bare', '-b', branch, bare(name)], root);
      await gitCli(['config', 'http.receivepack', 'true'], bare(name));
      const work = await mkdtemp(join(tmpdir(), 'hoist-git-work-'));
      try {
        await gitCli(['init', '-q', '-b', branch], work);
        for (const [file, text] of Object.entries(files)) {
          await mkdir(dirname(join(work, file)), { recursive: true });
          await writeFile(join(work, file), text);
        }
        await gitCli(['add', '-A'], work);
        await gitCli(['commit', '-q', '-m', 'initial'], work);
        await gitCli(['push', '-q', bare(name), `HEAD:refs/heads/${branch}`], work);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      return bare(name);
    },
    show: (name, branch, file) => gitCli(['show', `${branch}:${file}`], bare(name)),
    pushAs,
    async log(name, branch, format = '%an|%s') {
      const out = await gitCli(['log', `--format=${format}`, branch], bare(name));
      return out.split('\n').filter((l) => l !== '');
    },
    async refuseWith(name, message, code = 1) {
      const hook = join(bare(name), 'hooks', 'pre-receive');
      await writeFile(hook, `#!/bin/sh\necho "${message}" >&2\nexit ${code}\n`);
      await chmod(hook, 0o755);
    },
    close: () => rm(root, { recursive: true, force: true }),
  };
}

export interface GitHttpServer {
  /** http://127.0.0.1:PORT/ — append `<name>.git`. */
  url: string;
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  /** Runs (awaited) before the server answers the next push's ref advertisement; then cleared. */
  beforeReceive: (() => Promise<void>) | undefined;
  stop(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `git http-backend` over the repositories in `root`; with `token`, a request must carry Basic auth with it. */
export async function startGitHttp(root: string, token?: string): Promise<GitHttpServer> {
  const state: GitHttpServer = { url: '', requests: [], beforeReceive: undefined, stop: async () => {} };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization ?? '';
      const given = auth.startsWith('Basic ')
        ? Buffer.from(auth.slice(6), 'base64').toString().split(':')[1]
        : undefined;
      const authorized = token === undefined || given === token;
      state.requests.push({ method: req.method ?? '', path: url.pathname, authorized });
      const body = await readBody(req);
      if (!authorized) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('token required\n');
        return;
      }
      if (url.searchParams.get('service') === 'git-receive-pack' && state.beforeReceive) {
        const run = state.beforeReceive;
        state.beforeReceive = undefined;
        await run();
      }
      const cgi = spawn('/usr/lib/git-core/git-http-backend', [], {
        env: {
          ...GIT_ENV,
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: '1',
          REQUEST_METHOD: req.method ?? 'GET',
          PATH_INFO: decodeURIComponent(url.pathname),
          QUERY_STRING: url.search.slice(1),
          CONTENT_TYPE: req.headers['content-type'] ?? '',
          CONTENT_LENGTH: String(body.length),
          HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
          GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
          REMOTE_USER: 'tester',
          REMOTE_ADDR: '127.0.0.1',
        },
      });
      // http-backend may exit before reading all of a body (a refused push): not an error of the bridge.
      cgi.stdin.on('error', () => {});
      cgi.stdin.end(body);
      const out: Buffer[] = [];
      cgi.stdout.on('data', (c: Buffer) => out.push(c));
      cgi.on('close', () => {
        const all = Buffer.concat(out);
        const split = all.indexOf('\r\n\r\n');
        const head = all.subarray(0, split).toString();
        const headers: Record<string, string> = {};
        let status = 200;
        for (const line of head.split('\r\n')) {
          const i = line.indexOf(':');
          const [name, value] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
          if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
          else if (name) headers[name] = value;
        }
        res.writeHead(status, headers).end(all.subarray(split + 4));
      });
    })().catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  state.stop = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}
