/**
 * Policies from the CLI as a Devtron user writes them, against a real `hoist serve`: Devtron's documented
 * `hoist policy create --name=example-policy --approverCount=0 --allowRequestFromApprove=false …` works, every
 * Devtron switch takes `=true|false` (a bare switch is true) and `policy update` can turn one off; the flag has one
 * name in the CLI, the JSON and the messages (`allowRequestFromApprove`), and a body with the old JSON name is still
 * read; a value that is not true or false exits 2 naming the flag. `hoist promote` exits 3 when the request was
 * made but a target was refused (0 when none was).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness/free-port.ts';
import { buildImage } from './harness/images.ts';
import { pushImage } from './harness/push.ts';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { runCli, runCliWithStdin } from './helpers/run-cli.ts';

const ENTRY = fileURLToPath(new URL('../dist/hoist.mjs', import.meta.url));
const PASSWORD = 'cli-policies-password';
let dir: string;
let env: Record<string, string>;
let server: ChildProcess | undefined;
let url: string;
let reg: TestRegistry | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-cli-policies-'));
  env = {
    XDG_CONFIG_HOME: join(dir, 'config'),
    HOIST_ADMIN_PASSWORD: PASSWORD,
    HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
  };
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  server = spawn(
    process.execPath,
    [ENTRY, 'serve', '--port', String(port), '--data-dir', join(dir, 'data'), '--log-level', 'warn'],
    { env: { ...process.env, ...env }, stdio: 'ignore' },
  );
  const deadline = Date.now() + 90_000;
  while (
    !(await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    assert.ok(Date.now() < deadline, 'hoist serve did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const login = await runCliWithStdin(['login', '--server', url, '--password-stdin'], `${PASSWORD}\n`, env);
  assert.equal(login.code, 0, login.stderr);
});
after(async () => {
  server?.kill('SIGKILL');
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

const hoist = async (args: string[]) => {
  const r = await runCli(args, env);
  assert.equal(r.code, 0, `hoist ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const flags = (p: Record<string, unknown>) => [
  p.approverCount,
  p.allowRequestFromApprove,
  p.allowImageBuilderFromApprove,
  p.allowApproverFromDeploy,
];

test("Devtron's documented policy command works, and every switch takes =true|false", async () => {
  const created = JSON.parse(
    await hoist([
      'policy',
      'create',
      '--name=example-policy',
      '--approverCount=0',
      '--allowRequestFromApprove=false',
      '--allowImageBuilderFromApprove=false',
      '--allowApproverFromDeploy=true',
      '--passCondition=true',
      '--failCondition=false',
      '-o',
      'json',
    ]),
  );
  assert.deepEqual(flags(created), [0, false, false, true]);
  assert.equal('allowRequesterFromApprove' in created, false, 'one name for the flag');

  const on = JSON.parse(
    await hoist(['policy', 'update', 'example-policy', '--allowRequestFromApprove', '--approverCount=2', '-o', 'json']),
  );
  assert.deepEqual(flags(on), [2, true, false, true], 'a bare switch is true; the others keep their values');
  const off = JSON.parse(
    await hoist([
      'policy',
      'update',
      'example-policy',
      '--allow-request-from-approve=false',
      '--allowApproverFromDeploy=FALSE',
      '-o',
      'json',
    ]),
  );
  assert.deepEqual(flags(off), [2, false, false, false], 'update switches flags off');
  const again = JSON.parse(
    await hoist(['policy', 'update', 'example-policy', '--allowImageBuilderFromApprove=true', '-o', 'json']),
  );
  assert.deepEqual(flags(again), [2, false, true, false]);
  const negated = JSON.parse(
    await hoist(['policy', 'update', 'example-policy', '--no-allow-image-builder-from-approve', '-o', 'json']),
  );
  assert.deepEqual(flags(negated), [2, false, false, false]);
  assert.equal(negated.version, 5);

  const bad = await runCli(['policy', 'update', 'example-policy', '--allowRequestFromApprove=maybe'], env);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--allowRequestFromApprove: "maybe" is not true or false/);
  const help = await runCli(['policy', 'create', '--help'], env);
  assert.match(help.stdout, /--allow-request-from-approve/);
  assert.doesNotMatch(help.stdout + help.stderr, /requester-from/i);
});

test('the API reads the old JSON name on input, answers only the new one, and refuses both disagreeing', async () => {
  const token = JSON.parse(await hoist(['token', 'create', 'old-client', '-o', 'json'])).token as string;
  const put = (body: unknown) =>
    fetch(`${url}/api/v1/policies/legacy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const old = await put({ allowRequesterFromApprove: true });
  assert.equal(old.status, 200);
  const body = (await old.json()) as Record<string, unknown>;
  assert.equal(body.allowRequestFromApprove, true);
  assert.equal('allowRequesterFromApprove' in body, false);
  const both = await put({ allowRequesterFromApprove: true, allowRequestFromApprove: false });
  assert.equal(both.status, 400);
  assert.match(
    JSON.stringify(await both.json()),
    /allowRequesterFromApprove is the old name of allowRequestFromApprove/,
  );
});

test('promote exits 3 when the request was made but a target was refused, 0 when none was', async () => {
  reg = await startRegistry();
  const image = buildImage({ layers: [500] });
  await pushImage(reg.url, 'dev/web', image, { tag: '1.0' });
  await hoist(['registry', 'set', 'local', '--url', `http://${reg.host}`]);
  await hoist(['project', 'create', 'shop']);
  await hoist(['app', 'add', 'shop', 'web']);
  for (const prefix of ['dev/', 'staging/', 'prod/'])
    await hoist(['project', 'grant-namespace', 'shop', '--registry', 'local', '--prefix', prefix]);
  for (const stage of ['dev', 'staging', 'prod'])
    await hoist([
      'env',
      'set',
      'shop',
      stage,
      '--kind',
      'repository',
      '--registry',
      'local',
      '--repository',
      `${stage}/{app}`,
    ]);
  await hoist(['pipeline', 'set', 'shop', 'dev:staging', 'staging:prod']);
  const promote = (to: string) =>
    runCli(['promote', 'web', '--project', 'shop', '--tag', '1.0', '--from', 'dev', '--to', to, '-o', 'json'], env);

  const partly = await promote('staging,prod');
  assert.equal(partly.code, 3, partly.stderr);
  const made = JSON.parse(partly.stdout) as {
    targets: Array<{ environment: string; state: string; reasons: string[] }>;
  };
  assert.deepEqual(
    made.targets.map((t) => [t.environment, t.state]),
    [
      ['staging', 'QUEUED'],
      ['prod', 'REJECTED'],
    ],
  );
  assert.match(made.targets[1]?.reasons.join() ?? '', /no edge dev → prod/);
  const fine = await promote('staging');
  assert.equal(fine.code, 0, fine.stderr);
  const bad = await promote('nowhere');
  assert.equal(bad.code, 2, 'no request made: bad input');
});
