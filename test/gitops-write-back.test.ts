// npm test: own process — it sets HOIST_GIT_BINARY in the environment before it imports the write-back modules.
/**
 * The write-back against real remotes: bare repositories served by `git http-backend` (behind a CGI bridge that
 * checks a token) and file:// URLs. Second actors: a push to the same branch between hoist's fetch and its push
 * (the retry path), a pre-receive hook that refuses (permanent, with git's message), a wrong token, and a host the
 * outbound policy refuses. The git binary is run through a logging wrapper here, to show the token never reaches argv.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, rm, stat, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OutboundPolicy, OutboundRefused } from '../src/net/outbound-policy.ts';
import type * as WriteBackModule from '../src/gitops/write-back.ts';
import type * as RemoteModule from '../src/gitops/remote.ts';
import { gitRepos, startGitHttp, type GitHttpServer, type GitRepos } from './harness/git-server.ts';

const TOKEN = 'tok-s3cr3t-value-123';
const IMAGE = '127.0.0.1:5000/prod/web';
const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const KUSTOMIZATION = `# prod
resources:
  - deployment.yaml
images:
  - name: ${IMAGE}   # web
    newTag: "1.0"
`;
const LOOPBACK = OutboundPolicy.fromList('127.0.0.0/8');

let argvLog: string;
let mod: typeof WriteBackModule;
let remoteMod: typeof RemoteModule;

describe('gitops write-back', () => {
  let repos: GitRepos;
  let http: GitHttpServer;
  let wrapperDir: string;

  before(async () => {
    wrapperDir = await mkdtemp(join(tmpdir(), 'hoist-git-argv-'));
    argvLog = join(wrapperDir, 'argv.log');
    const wrapper = join(wrapperDir, 'git');
    await writeFile(wrapper, `#!/bin/sh\necho "$@" >> ${argvLog}\nexec /usr/bin/git "$@"\n`);
    await chmod(wrapper, 0o755);
    process.env.HOIST_GIT_BINARY = wrapper;
    mod = await import('../src/gitops/write-back.ts');
    remoteMod = await import('../src/gitops/remote.ts');
    repos = await gitRepos();
    http = await startGitHttp(repos.root, TOKEN);
  });
  after(async () => {
    await http.stop();
    await repos.close();
    await rm(wrapperDir, { recursive: true, force: true });
  });

  const message = (digest: string) => `hoist: promote web ${digest}\n\nRequest: r-1\n`;
  async function run(url: string, o: Partial<Parameters<typeof mod.writeBack>[0]> & { secret?: string } = {}) {
    const remote = await remoteMod.openRemote({ url, secret: o.secret ?? TOKEN }, LOOPBACK);
    try {
      return await mod.writeBack({
        remote,
        branch: 'main',
        mode: 'push',
        path: 'prod/kustomization.yaml',
        spec: { kind: 'kustomize', image: IMAGE, digest: D1 },
        message: message(D1),
        jitterMs: 20,
        ...o,
      });
    } finally {
      await remote.close();
    }
  }

  it('commits as hoist over http with a token, only the digest changes, and a retry commits nothing', async () => {
    await repos.create('a', { 'prod/kustomization.yaml': KUSTOMIZATION });
    const started = performance.now();
    const r = await run(`${http.url}a.git`);
    const ms = performance.now() - started;
    assert.equal(r.committed, true);
    assert.equal(r.branch, 'main');
    assert.equal(
      await repos.show('a', 'main', 'prod/kustomization.yaml'),
      KUSTOMIZATION.replace('newTag: "1.0"', `newTag: "1.0"\n    digest: ${D1}`),
    );
    assert.deepEqual(await repos.log('a', 'main'), [`hoist|hoist: promote web ${D1}`, 'someone|initial']);
    const again = await run(`${http.url}a.git`);
    assert.equal(again.committed, false);
    assert.equal(again.commit, r.commit);
    assert.equal((await repos.log('a', 'main')).length, 2);
    console.log(`# commit + push round over loopback http-backend: ${ms.toFixed(0)} ms`);
    const argv = await readFile(argvLog, 'utf8');
    assert.ok(!argv.includes(TOKEN) && !argv.includes(Buffer.from(`hoist:${TOKEN}`).toString('base64')), argv);
    assert.ok(http.requests.every((q) => q.authorized));
  });

  it('a push to the branch between fetch and push: fetched again, re-applied on the new tip, both changes kept', async () => {
    await repos.create('b', { 'prod/kustomization.yaml': KUSTOMIZATION, 'README.md': 'one\n' });
    http.beforeReceive = () => repos.pushAs('b', 'main', { 'README.md': 'two\n' }, 'concurrent edit');
    const r = await run(`${http.url}b.git`);
    assert.equal(r.committed, true);
    assert.equal(r.rounds, 2);
    assert.deepEqual(await repos.log('b', 'main'), [
      `hoist|hoist: promote web ${D1}`,
      'someone|concurrent edit',
      'someone|initial',
    ]);
    assert.equal(await repos.show('b', 'main', 'README.md'), 'two\n');
    assert.match(await repos.show('b', 'main', 'prod/kustomization.yaml'), new RegExp(`digest: ${D1}`));
  });

  it('a pre-receive hook that refuses: permanent, with the server’s message', async () => {
    await repos.create('c', { 'prod/kustomization.yaml': KUSTOMIZATION });
    await repos.refuseWith('c', 'prod is frozen until Monday');
    await assert.rejects(run(`${http.url}c.git`), (e: unknown) => {
      assert.ok(e instanceof mod.WriteBackFailed && !e.transient, String(e));
      assert.match(e.message, /prod is frozen until Monday/);
      return true;
    });
  });

  it('a wrong token is refused and never shown; a refused address never connects', async () => {
    await repos.create('d', { 'prod/kustomization.yaml': KUSTOMIZATION });
    await assert.rejects(run(`${http.url}d.git`, { secret: 'wrong-token-value' }), (e: unknown) => {
      assert.ok(e instanceof Error && !e.message.includes('wrong-token-value'), String(e));
      return true;
    });
    const before = http.requests.length;
    await assert.rejects(
      remoteMod.openRemote({ url: `${http.url}d.git`, secret: TOKEN }, new OutboundPolicy()),
      OutboundRefused,
    );
    await assert.rejects(remoteMod.openRemote({ url: 'http://169.254.169.254/x.git' }, LOOPBACK), OutboundRefused);
    assert.equal(http.requests.length, before);
  });

  it('ssh: the key in a private 0600 file (removed after), the checked address pinned, scp-style addresses refused', async () => {
    const remote = await remoteMod.openRemote(
      { url: 'ssh://git@127.0.0.1:2222/platform/deploy.git', secret: '-----BEGIN KEY-----\nabc\n-----END KEY-----' },
      LOOPBACK,
    );
    const command = remote.env.GIT_SSH_COMMAND ?? '';
    assert.match(command, /-o HostName=127\.0\.0\.1 /);
    assert.match(command, /StrictHostKeyChecking=accept-new/);
    assert.ok(!command.includes('BEGIN KEY'));
    const keyFile = /-i (\S+)/.exec(command)?.[1] ?? '';
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    await remote.close();
    await assert.rejects(stat(keyFile));
    assert.throws(() => {
      const r = remoteMod.checkGitUrl('git@github.com:org/repo.git', LOOPBACK);
      if (!r.ok) throw new Error(r.message);
    }, /ssh:\/\/git@github\.com\/org\/repo\.git/);
  });

  it('file:// remotes, helm values, and --mode branch pushes a review branch once', async () => {
    const values = `image:\n  repository: ${IMAGE}\n  digest: ""  # hoist\n`;
    const url = `file://${await repos.create('e', { 'charts/web/values-prod.yaml': values })}`;
    const helm = {
      path: 'charts/web/values-prod.yaml',
      spec: { kind: 'helm', key: 'image.digest', digest: D2 } as const,
    };
    const r = await run(url, { ...helm, mode: 'branch', reviewBranch: 'hoist/prod/web-r1' });
    assert.equal(r.branch, 'hoist/prod/web-r1');
    assert.equal(await repos.show('e', 'hoist/prod/web-r1', helm.path), values.replace('""', `"${D2}"`));
    assert.equal(await repos.show('e', 'main', helm.path), values);
    const again = await run(url, { ...helm, mode: 'branch', reviewBranch: 'hoist/prod/web-r1' });
    assert.equal(again.committed, false);
    assert.equal((await repos.log('e', 'hoist/prod/web-r1')).length, 2);
  });
});
