/**
 * The automation commands as a user runs them against a real `hoist serve` and a real registry whose notifications
 * point at it: a hook secret, a rule from flags (dry run first, showing what it would match and the compiled CEL),
 * a push that the rule promotes, soak time and windows, a binding, quarantine, a watch, and the events list.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { buildImage } from './harness/images.ts';
import { getManifestRaw, pushImage } from './harness/push.ts';
import { runCli, runCliWithStdin } from './helpers/run-cli.ts';
import { seedDataDir, startServe, type Served } from './helpers/serve.ts';
import { HoistClient, signInForToken } from '../src/client/index.ts';

const SECRET = 'cli-hook-secret-0123456789abcdef';
let dir: string;
let env: Record<string, string>;
let server: Served | undefined;
let reg: TestRegistry | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-cli-auto-'));
  env = {
    XDG_CONFIG_HOME: join(dir, 'config'),
    HOIST_ADMIN_PASSWORD: 'cli-auto-password',
    HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
  };
});
after(async () => {
  server?.proc.kill('SIGKILL');
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('rules, bindings, windows, soak, quarantine, watches and events from the CLI', async () => {
  await seedDataDir(join(dir, 'data'));
  server = await startServe({ dataDir: join(dir, 'data'), env });
  const url = server.url;
  reg = await startRegistry({
    notificationsUrl: `${url}/api/v1/hooks/distribution`,
    notificationHeaders: { Authorization: `Bearer ${SECRET}` },
  });
  const run = (args: string[], stdin?: string) =>
    stdin === undefined ? runCli(args, env) : runCliWithStdin(args, stdin, env);
  const ok = async (args: string[], stdin?: string) => {
    const r = await run(args, stdin);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await ok(['login', '--server', url, '--password-stdin'], 'cli-auto-password\n');
  // Waiting on the server is done through the API (a CLI process per look costs a third of a second of CPU); what
  // was waited for is then read with the CLI.
  const api = new HoistClient(url, await signInForToken(url, 'admin', 'cli-auto-password', 'cli-automation-wait', 1));
  await ok(['registry', 'set', 'local', '--url', `http://${reg.host}`]);
  const hookSecret = await run(
    ['registry', 'set-hook-secret', 'local', '--kind', 'distribution', '--secret-stdin', '-o', 'json'],
    `${SECRET}\n`,
  );
  assert.equal(hookSecret.code, 0, hookSecret.stderr);
  assert.ok(!hookSecret.stdout.includes(SECRET), 'a chosen secret is not echoed');
  await ok(['project', 'create', 'shop']);
  await ok(['app', 'add', 'shop', 'web']);
  for (const prefix of ['dev/', 'staging/', 'prod/'])
    await ok(['project', 'grant-namespace', 'shop', '--registry', 'local', '--prefix', prefix]);
  await ok([
    'env',
    'set',
    'shop',
    'dev',
    '--kind',
    'repository',
    '--registry',
    'local',
    '--repository',
    'dev/{app}',
    '--soak',
    '0s',
  ]);
  await ok([
    'env',
    'set',
    'shop',
    'staging',
    '--kind',
    'repository',
    '--registry',
    'local',
    '--repository',
    'staging/{app}',
    '--soak',
    '1h',
  ]);
  await ok(['env', 'set', 'shop', 'prod', '--kind', 'repository', '--registry', 'local', '--repository', 'prod/{app}']);
  await ok(['pipeline', 'set', 'shop', 'dev:staging', 'staging:prod']);

  const image = buildImage({ layers: [500], labels: { team: 'shop' } });
  await pushImage(reg.url, 'dev/web', image, { tag: 'old-1' });
  for (let i = 0; !(await api.artifacts.list('shop', 'web')).some((a) => a.digest === image.digest); i++) {
    assert.ok(i < 100, 'the push did not become an artifact');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok((await ok(['artifact', 'list', '--project', 'shop', '--app', 'web', '-o', 'json'])).includes(image.digest));

  const badRule = await run([
    'rule',
    'create',
    'r',
    '--project',
    'shop',
    '--from',
    'dev',
    '--to',
    'staging',
    '--criterion',
    'tag like v',
  ]);
  assert.equal(badRule.code, 2);
  assert.match(badRule.stderr, /--criterion 1/);
  const badTemplate = await run([
    'rule',
    'create',
    'r',
    '--project',
    'shop',
    '--from',
    'dev',
    '--to',
    'staging',
    '--tag-template',
    'a/%n',
  ]);
  assert.equal(badTemplate.code, 2);
  assert.match(badTemplate.stderr, /tagTemplate/);
  const dry = await run([
    'rule',
    'create',
    'releases',
    '--project',
    'shop',
    '--from',
    'dev',
    '--to',
    'staging',
    '--criterion',
    'label team=shop',
    '--criterion',
    'tag startsWith rel-',
    '--dry-run',
    '-o',
    'json',
  ]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /compiled: .*image\.labels/);
  assert.deepEqual(
    JSON.parse(dry.stdout).map((a: { digest: string; matches: boolean }) => [a.digest, a.matches]),
    [[image.digest, false]],
  );
  assert.deepEqual(
    JSON.parse(await ok(['rule', 'list', '--project', 'shop', '-o', 'json'])),
    [],
    'a dry run saves nothing',
  );

  const ruleFile = join(dir, 'rule.yaml');
  await writeFile(
    ruleFile,
    'name: releases\nfrom: dev\nto: staging\ncriteria:\n  - {field: tag, op: startsWith, value: rel-}\ntagTemplate: "%n"\n',
  );
  const rule = JSON.parse(
    await ok(['rule', 'create', '-f', ruleFile, '--project', 'shop', '--criterion', 'label team=shop', '-o', 'json']),
  );
  assert.match(rule.expression, /image\.tag\.startsWith\("rel-"\)/);
  assert.match(rule.expression, /image\.labels\["team"\] == "shop"/);

  const release = buildImage({ layers: [500], labels: { team: 'shop' } });
  await pushImage(reg.url, 'dev/web', release, { tag: 'rel-1' });
  for (let i = 0; (await getManifestRaw(reg.url, 'staging/web', 'rel-1')).status !== 200; i++) {
    assert.ok(i < 200, 'the rule did not promote rel-1');
    await new Promise((r) => setTimeout(r, 50));
  }
  const soaking = await run([
    'promote',
    'web',
    '--project',
    'shop',
    '--digest',
    release.digest,
    '--from',
    'staging',
    '--to',
    'prod',
  ]);
  assert.notEqual(soaking.code, 0);
  assert.match(soaking.stderr, /soak time of 3600 s/);

  await ok([
    'window',
    'set',
    'prod',
    '--project',
    'shop',
    '--window',
    'mon-fri 09:00-17:00 Europe/Berlin',
    '--window',
    'sat 10:00-12:00 UTC',
  ]);
  const badWindow = await run(['window', 'set', 'prod', '--project', 'shop', '--window', 'weekdays']);
  assert.equal(badWindow.code, 2);
  assert.match(badWindow.stderr, /DAYS HH:MM-HH:MM TIMEZONE/);
  const prod = (
    JSON.parse(await ok(['env', 'list', 'shop', '-o', 'json'])) as Array<{
      name: string;
      windows: Array<{ timeZone: string }>;
    }>
  ).find((e) => e.name === 'prod');
  assert.deepEqual(
    prod?.windows.map((w) => w.timeZone),
    ['Europe/Berlin', 'UTC'],
  );

  const badPin = await run(['binding', 'set', 'web', '--project', 'shop', '--env', 'prod', '--pin', 'latest']);
  assert.equal(badPin.code, 2);
  assert.match(badPin.stderr, /sha256: followed by 64 lower-case hex digits/);
  await ok(['binding', 'set', 'web', '--project', 'shop', '--env', 'prod', '--track-latest']);
  assert.deepEqual(
    JSON.parse(await ok(['binding', 'list', '--project', 'shop', '-o', 'json'])).map(
      (b: { environment: string; mode: string }) => [b.environment, b.mode],
    ),
    [['prod', 'track-latest']],
  );

  await ok(['quarantine', image.digest, '--reason', 'CVE-2026-9999']);
  assert.match(await ok(['quarantine', '-o', 'json']), /CVE-2026-9999/);
  await ok(['unquarantine', image.digest]);

  await ok(['watch', 'add', 'local/dev/web', '--interval', '3600']);
  for (let i = 0; ((await api.watches.list())[0]?.lastCheckedAt ?? null) === null; i++) {
    assert.ok(i < 100, 'the watch was not checked');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.notEqual(JSON.parse(await ok(['watch', 'list', '-o', 'json']))[0]?.lastCheckedAt, null);
  const events = JSON.parse(await ok(['events', '-o', 'json'])) as Array<{
    repository: string;
    tag: string | null;
    state: string;
  }>;
  assert.ok(
    events.some((e) => e.repository === 'dev/web' && e.tag === 'rel-1' && e.state === 'DONE'),
    JSON.stringify(events.slice(0, 5)),
  );
});
