/**
 * GitOps write-back end to end, on both backends, against real registries and a real Git server (`git http-backend`
 * behind a token-checking bridge on loopback): who may set an environment's git target (an owner, but on a protected
 * environment or with a file:// URL only an admin; URLs the outbound policy refuses are refused); a promotion that
 * reaches PROMOTED carries GITOPS_PENDING until the write-back commits, then GITOPS_PUSHED with the commit; the commit
 * says who approved what; a push by someone else between hoist's fetch and push is re-applied; a server hook that
 * refuses ends GITOPS_FAILED with git's message, shown on the target; two promotions back to back are two commits in
 * order; a write-back redone after a crash (pushed, not recorded) commits nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';
import { gitRepos, startGitHttp, type GitHttpServer, type GitRepos } from '../harness/git-server.ts';

const TOKEN = 'gitops-token-4f2a9c';
let source: TestRegistry;
let target: TestRegistry;
let repos: GitRepos;
let git: GitHttpServer;
before(async () => {
  [source, target] = await Promise.all([startRegistry(), startRegistry()]);
  repos = await gitRepos();
  git = await startGitHttp(repos.root, TOKEN);
});
after(async () => {
  await git?.stop();
  await repos?.close();
  await Promise.all([source?.stop(), target?.stop()]);
});

const kustomization = (image: string) => `# staging overlay
resources:
  - deployment.yaml   # the app
images:
  - name: ${image}
    newTag: "0.9"
`;

for (const [b, backend] of BACKENDS.entries()) {
  void describe(`gitops write-back [${backend}]`, () => {
    const images = [1, 2, 3, 4, 5, 6].map((n) => buildImage({ layers: [7000 + 10 * b + n] }));
    const digests: string[] = [];
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    let next = 0;
    const P = '/api/v1/projects/shop';
    const IMAGE = () => `${target.host}/staging/web`;

    before(async () => {
      api = await startApi(backend, { gitops: { backoffMs: 50, maxBackoffMs: 200 } });
      const tokens: Record<string, string> = {};
      for (const u of ['devon', 'pat', 'olga']) tokens[u] = await api.tokenFor(u);
      tokens.root = await api.tokenFor('root', { admin: true });
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'src', url: `http://${source.host}` });
      await as('root', 'POST', '/api/v1/registries', { name: 'dst', url: `http://${target.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      await as('root', 'PUT', `${P}/namespaces`, { registry: 'src', prefix: 'dev/' });
      for (const prefix of ['staging/', 'prod/'])
        await as('root', 'PUT', `${P}/namespaces`, { registry: 'dst', prefix });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const [env, registry] of [
        ['dev', 'src'],
        ['staging', 'dst'],
        ['prod', 'dst'],
      ] as const) {
        const r = await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry,
          repository: `${env}/{app}`,
          ...(env === 'prod' ? { protected: true } : {}),
        });
        assert.ok(r.status < 300, JSON.stringify(r.body));
      }
      await as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
        ],
      });
      for (const [u, role] of [
        ['devon', 'developer'],
        ['pat', 'promoter'],
        ['olga', 'owner'],
      ] as const) {
        const m = await as('root', 'POST', `${P}/members`, { username: u, role });
        assert.equal(m.status, 201, JSON.stringify(m.body));
      }
      for (const [i, image] of images.entries()) {
        await pushImage(source.url, 'dev/web', image, { tag: `${backend}-g${i}` });
        digests.push(image.digest);
        await as('devon', 'POST', `${P}/applications/web/artifacts`, {
          reference: `${source.host}/dev/web:${backend}-g${i}`,
        });
      }
    });
    after(async () => {
      await api?.services.gitops.stop();
      await api?.services.runner.stop();
      await api?.close();
    });

    const repoUrl = (name: string) => `${git.url}${name}.git`;
    const setTarget = (who: string, env: string, body: Record<string, unknown>) =>
      as(who, 'PUT', `${P}/environments/${env}/git-target`, body);
    /** Promotes the next image from `from` to `to`; answers the request id and its digest. */
    const promote = async (from: string, to: string): Promise<{ id: string; digest: string }> => {
      const i = next++;
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: `${backend}-g${i}`,
        from,
        to: [to],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return { id: r.body.id as string, digest: digests[i] as string };
    };
    const runPromotions = async () => {
      while (await api.services.runner.runOne());
    };
    const targetOf = async (id: string) => (await as('devon', 'GET', `${P}/promotions/${id}`)).body.targets[0];
    const commits = (repo: string) => repos.log(repo, 'main', '%an|%s');

    test('who may set a git target: owners, but a protected environment or a file:// URL only admins', async () => {
      const body = { url: repoUrl(`${backend}-perm`), branch: 'main', path: 'x/kustomization.yaml', edit: 'kustomize' };
      const staging = await setTarget('olga', 'staging', { ...body, secret: TOKEN });
      assert.equal(staging.status, 200, JSON.stringify(staging.body));
      assert.equal(staging.body.hasSecret, true);
      assert.ok(!JSON.stringify(staging.body).includes(TOKEN));
      assert.equal((await as('devon', 'GET', `${P}/environments/staging/git-target`)).body.url, body.url);
      const prod = await setTarget('olga', 'prod', body);
      assert.equal(prod.status, 403);
      assert.match(prod.body.error.message, /protected: only an admin changes its git target/);
      assert.equal((await as('olga', 'DELETE', `${P}/environments/prod/git-target`)).status, 403);
      const file = await setTarget('olga', 'staging', { ...body, url: 'file:///etc/repo.git' });
      assert.equal(file.status, 403);
      const metadata = await setTarget('root', 'staging', { ...body, url: 'http://169.254.169.254/r.git' });
      assert.equal(metadata.status, 400);
      assert.equal((await setTarget('root', 'staging', { ...body, url: 'ftp://x/r.git' })).status, 400);
      assert.equal((await setTarget('devon', 'staging', body)).status, 403);
      assert.equal((await setTarget('root', 'prod', body)).status, 200);
      assert.equal((await as('root', 'DELETE', `${P}/environments/prod/git-target`)).status, 204);
      assert.equal((await as('olga', 'DELETE', `${P}/environments/staging/git-target`)).status, 204);
      assert.equal((await as('olga', 'GET', `${P}/environments/staging/git-target`)).status, 404);
    });

    test('PROMOTED → GITOPS_PENDING → one commit by hoist naming the digest (a concurrent push re-applied); redone after a crash: no second commit', async () => {
      const repo = `${backend}-main`;
      await repos.create(repo, { 'apps/web/staging/kustomization.yaml': kustomization(IMAGE()), 'README.md': 'x\n' });
      const set = await setTarget('olga', 'staging', {
        url: repoUrl(repo),
        branch: 'main',
        path: 'apps/{app}/staging/kustomization.yaml',
        edit: 'kustomize',
        secret: TOKEN,
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const { id, digest } = await promote('dev', 'staging');
      await runPromotions();
      const pending = await targetOf(id);
      assert.equal(pending.state, 'PROMOTED');
      assert.equal(pending.gitops.status, 'GITOPS_PENDING');
      git.beforeReceive = () => repos.pushAs(repo, 'main', { 'README.md': 'edited meanwhile\n' }, 'someone else');
      assert.equal(await api.services.gitops.runOne(), true);
      const pushed = await targetOf(id);
      assert.equal(pushed.gitops.status, 'GITOPS_PUSHED', JSON.stringify(pushed.gitops));
      assert.equal(pushed.gitops.branch, 'main');
      const file = await repos.show(repo, 'main', 'apps/web/staging/kustomization.yaml');
      assert.equal(file, kustomization(IMAGE()).replace('newTag: "0.9"', `newTag: "0.9"\n    digest: ${digest}`));
      assert.equal(await repos.show(repo, 'main', 'README.md'), 'edited meanwhile\n');
      const log = await commits(repo);
      assert.equal(log.length, 3);
      assert.match(log[0] ?? '', /^hoist\|hoist: promote web [0-9a-f]{12} dev → staging$/);
      const body = await repos.log(repo, 'main', '%B');
      assert.ok(body.includes(`Request: ${id}`) && body.includes(`Digest: ${digest}`), body.join('\n'));
      assert.equal(pushed.gitops.commit, (await repos.log(repo, 'main', '%H'))[0]);
      // A crash after the push, before it was recorded: the job is claimed again and finds the digest there. (Due a
      // second ago: the database's now() has microseconds, the claim's clock milliseconds, so a claim in the same
      // millisecond would find it not yet due.)
      await sql`UPDATE gitops_writes SET state = 'PENDING', commit_sha = NULL, run_after = now() - interval '1 second'`.execute(
        api.database.db,
      );
      assert.equal(await api.services.gitops.runOne(), true);
      assert.equal((await commits(repo)).length, 3);
      assert.equal((await targetOf(id)).gitops.status, 'GITOPS_PUSHED');
    });

    test('two promotions back to back: two commits, in order, the later digest last', async () => {
      const repo = `${backend}-main`;
      const first = await promote('dev', 'staging');
      const second = await promote('dev', 'staging');
      await runPromotions();
      const before = (await commits(repo)).length;
      await api.services.gitops.start();
      try {
        const deadline = Date.now() + 30_000;
        while ((await targetOf(second.id)).gitops?.status !== 'GITOPS_PUSHED') {
          assert.ok(Date.now() < deadline, JSON.stringify(await targetOf(second.id)));
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await api.services.gitops.stop();
      }
      assert.equal((await targetOf(first.id)).gitops.status, 'GITOPS_PUSHED');
      const log = await repos.log(repo, 'main', '%B');
      const added = (await commits(repo)).length - before;
      assert.equal(added, 2);
      const newest = log.findIndex((l) => l === `Digest: ${second.digest}`);
      const older = log.findIndex((l) => l === `Digest: ${first.digest}`);
      assert.ok(newest >= 0 && older > newest, log.join('\n'));
      assert.match(await repos.show(repo, 'main', 'apps/web/staging/kustomization.yaml'), new RegExp(second.digest));
    });

    test('a push the server refuses (pre-receive hook): GITOPS_FAILED with git’s message, on the target; approvers in the message', async () => {
      const repo = `${backend}-frozen`;
      await repos.create(repo, { 'prod/values.yaml': 'image:\n  digest: ""\n' });
      const set = await setTarget('root', 'prod', {
        url: repoUrl(repo),
        branch: 'main',
        path: 'prod/values.yaml',
        edit: 'helm',
        secret: TOKEN,
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      await repos.refuseWith(repo, 'prod is frozen for the holidays');
      const toProd = async (): Promise<string> => {
        const { id } = await promote('dev', 'staging');
        await runPromotions();
        const tag = `${backend}-g${next - 1}`;
        const r = await as('devon', 'POST', `${P}/applications/web/promotions`, { tag, from: 'staging', to: ['prod'] });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        assert.equal((await as('pat', 'POST', `${P}/promotions/${r.body.id}/approve`, {})).status, 200);
        await runPromotions();
        assert.equal((await targetOf(id)).state, 'PROMOTED');
        return r.body.id as string;
      };
      const refused = await toProd();
      while (await api.services.gitops.runOne());
      const prod = await targetOf(refused);
      assert.equal(prod.state, 'PROMOTED');
      assert.equal(prod.gitops.status, 'GITOPS_FAILED');
      assert.match(prod.gitops.error, /prod is frozen for the holidays/);
      assert.equal((await commits(repo)).length, 1);
      const audit = await sql<{ n: string }>`SELECT count(*) AS n FROM audit_log
        WHERE object_id = ${refused} AND action = 'promotion.gitops-failed'`.execute(api.database.db);
      assert.equal(Number(audit.rows[0]?.n), 1);
      // The hook lifted: the next promotion's commit names its approver.
      await repos.refuseWith(repo, 'ok', 0);
      const accepted = await toProd();
      while (await api.services.gitops.runOne());
      assert.equal((await targetOf(accepted)).gitops.status, 'GITOPS_PUSHED');
      const body = await repos.log(repo, 'main', '%B');
      assert.ok(body.includes('Approved-by: pat') && body.includes('Requested-by: devon'), body.join('\n'));
      assert.match((await commits(repo))[0] ?? '', /staging → prod$/);
    });
  });
}
