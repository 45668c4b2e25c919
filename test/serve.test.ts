/**
 * `hoist serve` and the control-plane CLI as a user runs them: a real server process on the embedded database,
 * `hoist login` storing a token in a 0600 file, resource commands, `hoist audit verify`, graceful shutdown on
 * SIGTERM, data kept across restarts, `hoist db migrate`, and clear errors for an unreachable or newer database.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { freePort } from './harness/free-port.ts';
import { startRegistry } from './harness/registry.ts';
import { buildImage } from './harness/images.ts';
import { pushImage } from './harness/push.ts';
import { freshPostgres } from './helpers/backends.ts';
import { runCli, runCliWithStdin as runWithStdin } from './helpers/run-cli.ts';
import { seedDataDir, startServe, type Served } from './helpers/serve.ts';
import { HoistClient, signInForToken } from '../src/client/index.ts';
import { openDatabase } from '../src/store/database.ts';

const runCliWithStdin = (args: string[], input: string) => runWithStdin(args, input, env);
let dir: string;
let env: Record<string, string>;
let server: Served | undefined;
let url: string;

const startServer = (port: number): Promise<Served> => startServe({ dataDir: join(dir, 'data'), port, env });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-serve-'));
  env = {
    XDG_CONFIG_HOME: join(dir, 'config'),
    HOIST_ADMIN_PASSWORD: 'serve-test-password',
    HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
  };
  // A migrated embedded database, as a first start leaves it (test/data-dir.test.ts starts without one).
  await seedDataDir(join(dir, 'data'));
});
after(async () => {
  server?.proc.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('serve, login, manage the model from the CLI, verify the audit chain, stop gracefully, restart with the data', async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const s = await startServer(port);
  server = s;
  const login = await runCliWithStdin(['login', '--server', url, '--password-stdin'], 'serve-test-password\n');
  assert.equal(login.code, 0, login.stderr);
  const mode = (await stat(join(dir, 'config', 'hoist', 'config.json'))).mode & 0o777;
  assert.equal(mode, 0o600);
  const ok = async (args: string[]) => {
    const r = await runCli(args, env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await ok(['registry', 'set', 'local', '--url', 'http://127.0.0.1:5999']);
  await ok(['project', 'create', 'shop', '--description', 'the shop']);
  await ok(['app', 'add', 'shop', 'web']);
  for (const prefix of ['dev/', 'apps/'])
    await ok(['project', 'grant-namespace', 'shop', '--registry', 'local', '--prefix', prefix]);
  await ok(['env', 'set', 'shop', 'dev', '--kind', 'repository', '--registry', 'local', '--repository', 'dev/{app}']);
  await ok([
    'env',
    'set',
    'shop',
    'prod',
    '--kind',
    'tag',
    '--registry',
    'local',
    '--repository',
    'apps/{app}',
    '--tag',
    'prod',
    '--protected',
  ]);
  assert.deepEqual(JSON.parse(await ok(['pipeline', 'set', 'shop', 'dev:prod', '-o', 'json'])), [
    { from: 'dev', to: 'prod' },
  ]);
  assert.match(
    await ok(['env', 'list', 'shop', '-o', 'table']),
    /^NAME +POSITION +KIND +REGISTRY +REPOSITORY +TAG +PROTECTED +SOAKSECONDS\ndev +0 +repository +local +dev\/\{app\} +- +false +0\nprod +1 +tag/,
  );
  assert.match(await ok(['project', 'show', 'shop', '-o', 'yaml']), /applications:\n {2}- web\n/);
  const bad = await runCli(['pipeline', 'set', 'shop', 'dev:dev'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /edges\[0\]: dev → dev: an environment cannot promote into itself/);
  assert.match(await ok(['audit', 'verify', '-o', 'table']), /audit chain intact: \d+ rows/);

  // Declarative: plan, apply, apply again (nothing), export, and a broken file named by line and column.
  const example = fileURLToPath(new URL('../examples/hoist.yaml', import.meta.url));
  const plan = await ok(['apply', '-f', example, '--dry-run']);
  assert.match(plan, /^~ update registry local \(url: "127\.0\.0\.1:5999" → "127\.0\.0\.1:5000"\)$/m);
  assert.match(plan, /^\+ create environment shop\/staging$/m);
  assert.match(plan, /dry run: nothing changed/);
  assert.deepEqual(
    JSON.parse(await ok(['pipeline', 'show', 'shop', '-o', 'json'])),
    [{ from: 'dev', to: 'prod' }],
    'a dry run changes nothing',
  );
  assert.match(await ok(['apply', '-f', example]), /applied \d+ changes/);
  assert.equal(await ok(['apply', '-f', example]), 'nothing to change\n');
  const exported = join(dir, 'exported.yaml');
  await ok(['export', '-f', exported]);
  assert.equal(await ok(['apply', '-f', exported]), 'nothing to change\n', 'an export applies as no change');
  const broken = join(dir, 'broken.yaml');
  await writeFile(
    broken,
    'apiVersion: hoist/v1\nprojects:\n  - name: shop\n    environments:\n      - name: dev\n        kind: cloud\n',
  );
  const bad2 = await runCli(['apply', '-f', broken], env);
  assert.equal(bad2.code, 2);
  assert.match(
    bad2.stderr,
    /broken\.yaml:6:15: projects\[0\]\.environments\[0\]\.kind: kind must be repository or tag/,
  );

  // Artifacts: CI registers an image from a real registry.
  const ciRegistry = await startRegistry();
  try {
    const img = buildImage({ layers: [5000], labels: { team: 'shop' } });
    await pushImage(ciRegistry.url, 'ci/web', img, { tag: '7' });
    await ok(['registry', 'set', 'ci-reg', '--url', `http://${ciRegistry.host}`]);
    for (const prefix of ['ci/', 'qa/'])
      await ok(['project', 'grant-namespace', 'shop', '--registry', 'ci-reg', '--prefix', prefix]);
    await ok([
      'env',
      'set',
      'shop',
      'ci',
      '--kind',
      'repository',
      '--registry',
      'ci-reg',
      '--repository',
      'ci/{app}',
      '--position',
      '0',
    ]);
    const registered = JSON.parse(
      await ok([
        'artifact',
        'register',
        `${ciRegistry.host}/ci/web:7`,
        '--project',
        'shop',
        '--app',
        'web',
        '--branch',
        'main',
        '--commit',
        'abc123',
        '--label',
        'ticket=SHOP-1',
        '-o',
        'json',
      ]),
    );
    assert.deepEqual(
      [registered.digest, registered.labels.team, registered.build.labels],
      [img.digest, 'shop', { ticket: 'SHOP-1' }],
    );
    const listed = JSON.parse(
      await ok(['artifact', 'list', '--project', 'shop', '--app', 'web', '--env', 'ci', '-o', 'json']),
    );
    assert.deepEqual(
      listed.map((a: { digest: string; environments: string[] }) => [a.digest, a.environments]),
      [[img.digest, ['ci']]],
    );

    // Promote it from the CLI; the server's runner copies it.
    await ok([
      'env',
      'set',
      'shop',
      'qa',
      '--kind',
      'repository',
      '--registry',
      'ci-reg',
      '--repository',
      'qa/{app}',
      '--position',
      '1',
    ]);
    await ok(['pipeline', 'set', 'shop', 'ci:qa', 'dev:staging', 'staging:prod']);
    const requested = JSON.parse(
      await ok([
        'promote',
        'web',
        '--project',
        'shop',
        '--tag',
        '7',
        '--from',
        'ci',
        '--to',
        'qa',
        '--comment',
        'first',
        '-o',
        'json',
      ]),
    );
    assert.ok(
      ['QUEUED', 'PROMOTING', 'PROMOTED'].includes(requested.targets[0].state),
      'no approvals needed: queued, and the runner starts at once',
    );
    // Wait through the API (a CLI process per look costs a third of a second of CPU), then read it with the CLI.
    const api = new HoistClient(url, await signInForToken(url, 'admin', 'serve-test-password', 'serve-test-wait', 1));
    for (let i = 0; i < 100 && (await api.promotions.get('shop', requested.id)).targets[0]?.state !== 'PROMOTED'; i++)
      await new Promise((r) => setTimeout(r, 100));
    const state = JSON.parse(await ok(['requests', '--project', 'shop', '-o', 'json']))[0].targets[0].state;
    assert.equal(state, 'PROMOTED');
    const promoted = await fetch(`${ciRegistry.url}/v2/qa/web/manifests/7`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(promoted.headers.get('docker-content-digest'), img.digest);
    assert.match(
      await ok(['requests', '--project', 'shop', '-o', 'table']),
      /^ID +APP +FROM +TO +STATE +APPROVALS +REQUESTEDBY +REASONS\n\S+ +web +ci +qa +PROMOTED +0\/0 +admin/,
    );
    // One request's story, step by step, as the request page shows it.
    const story = (await ok(['request', requested.id, '--project', 'shop', '-o', 'table'])).trim().split('\n');
    assert.match(story[0] ?? '', /^AT +TARGET +STEP +BY +STATE +DETAIL$/);
    assert.deepEqual(
      story.slice(1).map((l) => l.split(/ +/).slice(1, 5)),
      [
        ['qa', 'requested', 'admin', 'QUEUED'],
        ['qa', 'promoting', 'hoist', 'PROMOTING'],
        ['qa', 'promoted', 'hoist', 'PROMOTED'],
      ],
    );
    assert.match(story[3] ?? '', /tag 7 written(, \d+ blobs mounted)?; \d+(\.\d)? (B|KiB|MiB) streamed$/);
    const shown = JSON.parse(
      await ok(['artifact', 'show', img.digest, '--project', 'shop', '--app', 'web', '-o', 'json']),
    );
    assert.deepEqual(
      shown.journey.map((j: { from: string; to: string; state: string }) => [j.from, j.to, j.state]),
      [['ci', 'qa', 'PROMOTED']],
    );
    assert.deepEqual(
      shown.environments.map((e: { environment: string }) => e.environment),
      ['ci', 'qa'],
    );
    const history = JSON.parse(await ok(['history', '--project', 'shop', '--env', 'qa', '-o', 'json']));
    assert.deepEqual(
      history.map((h: { from: string; to: string; tag: string; state: string; comment: string }) => [
        h.from,
        h.to,
        h.tag,
        h.state,
        h.comment,
      ]),
      [['ci', 'qa', '7', 'PROMOTED', 'first']],
    );
    assert.match(
      await ok(['check-deploy', '--project', 'shop', '--env', 'qa', '--digest', img.digest, '-o', 'table']),
      /^allowed: promoted to qa/,
    );
    const gate = await runCli(
      ['check-deploy', '--project', 'shop', '--env', 'prod', '--digest', img.digest, '-o', 'table'],
      env,
    );
    assert.deepEqual([gate.code, gate.stdout.trim()], [3, `NOT allowed: ${img.digest} was never promoted to prod`]);
    const noEdge = await runCli(
      ['promote', 'web', '--project', 'shop', '--digest', img.digest, '--from', 'ci', '--to', 'prod', '-o', 'json'],
      env,
    );
    assert.equal(noEdge.code, 3, 'the request was made and its target refused: 3, not a failure');
    assert.match(noEdge.stdout, /the pipeline has no edge ci → prod/);
  } finally {
    await ciRegistry.stop();
  }

  // Policies with devtctl's spellings, and Devtron's apply file.
  const created = JSON.parse(
    await ok([
      'policy',
      'create',
      '--name',
      'prod-gate',
      '--failCondition',
      'scan.critical > 0',
      '--pass-condition',
      'signature.present',
      '--approverCount',
      '1',
      '--allowRequestFromApprove',
      '-o',
      'json',
    ]),
  );
  assert.deepEqual(
    [created.version, created.approverCount, created.allowRequestFromApprove, created.failConditions],
    [1, 1, true, ['scan.critical > 0']],
  );
  const badCel = await runCli(['policy', 'update', 'prod-gate', '--fail-condition', 'scan.critical >'], env);
  assert.equal(badCel.code, 2);
  assert.match(badCel.stderr, /failConditions\[0\]: line 1, column \d+/);
  const applied = await ok([
    'policy',
    'apply',
    '-f',
    fileURLToPath(new URL('../examples/applyPolicy.yaml', import.meta.url)),
    '-o',
    'json',
  ]);
  assert.deepEqual(JSON.parse(applied).appliesTo, [
    { project: 'shop', application: 'api', environment: 'prod' },
    { project: 'shop', application: 'web', environment: 'prod' },
  ]);

  assert.equal(await s.stop(), 0, 'graceful shutdown exits 0');
  const again = await startServer(port);
  server = again;
  assert.doesNotMatch(again.output(), /one-time password/);
  assert.match(await ok(['project', 'list', '-o', 'json']), /"shop"/);
  assert.equal(await again.stop(), 0);
  server = undefined;
  const migrated = await ok(['db', 'migrate', '--data-dir', join(dir, 'data')]);
  assert.match(migrated, /nothing to apply/);
});

test('an unreachable PostgreSQL and a database from a newer hoist are refused with a clear error', async () => {
  const down = await runCli(['db', 'migrate', '--database-url', 'postgres://hoist@127.0.0.1:1/hoist'], env);
  assert.equal(down.code, 1);
  assert.match(
    down.stderr,
    /cannot reach PostgreSQL at postgres:\/\/hoist@127\.0\.0\.1:1\/hoist: ECONNREFUSED; is it running/,
  );
  const pgUrl = await freshPostgres(); // migrated
  const db = await openDatabase({ url: pgUrl });
  await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('9999-from-the-future', now()::text)`.execute(db.db);
  await db.close();
  const newer = await runCli(['serve', '--database-url', pgUrl, '--port', '0'], env);
  assert.equal(newer.code, 1);
  assert.match(newer.stderr, /migrated by a newer hoist \(it has migration 9999-from-the-future/);
});
