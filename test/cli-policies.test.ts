/**
 * Policies from the CLI as a Devtron user writes them, against a real `hoist serve`: Devtron's documented
 * `hoist policy create --name=example-policy --approverCount=0 --allowRequestFromApprove=false …` works, every
 * Devtron switch takes `=true|false` (a bare switch is true) and `policy update` can turn one off; the flag has one
 * name in the CLI, the JSON and the messages (`allowRequestFromApprove`), and a body with the old JSON name is still
 * read; a value that is not true or false exits 2 naming the flag. `hoist promote` exits 3 when the request was
 * made but a target was refused (0 when none was) and sends an Idempotency-Key per invocation (seen by a recording
 * proxy in between); `hoist policy delete` says what it did to waiting requests (and is refused, naming unapply,
 * while the policy is bound); `history`, `requests` and `events` follow pages up to `--limit` (100) or `--all` and say on stderr
 * when more exist.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from './harness/images.ts';
import { pushImage } from './harness/push.ts';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { runCli, runCliWithStdin } from './helpers/run-cli.ts';
import { seedDataDir, startServe, type Served } from './helpers/serve.ts';

const PASSWORD = 'cli-policies-password';
let dir: string;
let env: Record<string, string>;
let server: Served | undefined;
let url: string;
let reg: TestRegistry | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-cli-policies-'));
  env = {
    XDG_CONFIG_HOME: join(dir, 'config'),
    HOIST_ADMIN_PASSWORD: PASSWORD,
    HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128',
  };
  await seedDataDir(join(dir, 'data'));
  server = await startServe({ dataDir: join(dir, 'data'), env });
  url = server.url;
  const login = await runCliWithStdin(['login', '--server', url, '--password-stdin'], `${PASSWORD}\n`, env);
  assert.equal(login.code, 0, login.stderr);
});
after(async () => {
  server?.proc.kill('SIGKILL');
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
  token = JSON.parse(await hoist(['token', 'create', 'old-client', '-o', 'json'])).token as string;
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

const image = buildImage({ layers: [500] });
let token = '';
const api = (method: string, path: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

test('promote exits 3 when the request was made but a target was refused, 0 when none was', async () => {
  reg = await startRegistry();
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
  const bad = await promote('nowhere');
  assert.equal(bad.code, 2, 'no request made: bad input');
  const soon = await runCli(
    ['promote', 'web', '--project', 'shop', '--tag', '1.0', '--from', 'dev', '--to', 'staging', '--wait', 'soon'],
    env,
  );
  assert.equal(soon.code, 2, 'a bad --wait is refused before anything is sent');
  assert.match(soon.stderr, /--wait: "soon" is not a number of seconds/);
  // With --wait it answers once hoist has carried the target out: the next hop can be asked for at once.
  const fine = await runCli(
    [
      'promote',
      'web',
      '--project',
      'shop',
      '--tag',
      '1.0',
      '--from',
      'dev',
      '--to',
      'staging',
      '--wait',
      '60',
      '-o',
      'json',
    ],
    env,
  );
  assert.equal(fine.code, 0, fine.stderr);
  assert.deepEqual(
    (JSON.parse(fine.stdout) as { targets: Array<{ state: string }> }).targets.map((t) => t.state),
    ['PROMOTED'],
  );
});

test('promote sends an Idempotency-Key, a new UUID per invocation', async () => {
  const seen: string[] = [];
  // A second actor between the CLI and the server: it records the header and forwards everything.
  const proxy: Server = createServer((req, res) => {
    if (req.method === 'POST' && req.url?.endsWith('/promotions')) seen.push(String(req.headers['idempotency-key']));
    const upstream = httpRequest(`${url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as { port: number }).port;
  try {
    for (let i = 0; i < 2; i++) {
      const r = await runCli(
        ['promote', 'web', '--project', 'shop', '--digest', image.digest, '--from', 'dev', '--to', 'staging'],
        {
          ...env,
          HOIST_SERVER: `http://127.0.0.1:${port}`,
          HOIST_TOKEN: token,
        },
      );
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    await new Promise((r) => proxy.close(r));
  }
  assert.equal(seen.length, 2);
  for (const key of seen) assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(seen[0], seen[1]);
});

test('policy delete says what it did to waiting requests; a bound policy is refused naming unapply', async () => {
  await hoist(['policy', 'create', '--name=prod-gate', '--approverCount=1']);
  const applied = await api('POST', '/api/v1/policies/prod-gate/apply', {
    applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
  });
  assert.equal(applied.status, 200);
  // Wait for the image to be in staging (the earlier promotion; looking through the API, which costs no CLI
  // process), then ask for prod: it waits for an approval.
  const inStaging = async () =>
    (
      (await (await api('GET', `/api/v1/projects/shop/applications/web/artifacts/${image.digest}`)).json()) as {
        environments: Array<{ environment: string }>;
      }
    ).environments.some((e) => e.environment === 'staging');
  for (let i = 0; i < 150 && !(await inStaging()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const r = await runCli(
    [
      'promote',
      'web',
      '--project',
      'shop',
      '--digest',
      image.digest,
      '--from',
      'staging',
      '--to',
      'prod',
      '-o',
      'json',
    ],
    env,
  );
  assert.equal(r.code, 0, r.stderr);
  const waiting = JSON.parse(r.stdout) as { id: string; targets: Array<{ state: string }> };
  assert.equal(waiting.targets[0]?.state, 'AWAITING_APPROVAL');
  // It waits, but not for its requester (separation of duties): the server's "waiting for me" says so.
  const listed = (args: string[]) => hoist(['requests', '--project', 'shop', ...args, '-o', 'json']).then(JSON.parse);
  assert.ok((await listed(['--state', 'AWAITING_APPROVAL'])).some((p: { id: string }) => p.id === waiting.id));
  assert.deepEqual(await listed(['--pending-for-me']), []);

  // Bound to shop/web → prod, it cannot go at all (an admin's gate never vanishes by a deletion); unapplied, the
  // waiting target goes STALE at once, and the deletion then has nothing left to do to requests.
  const bound = await runCli(['policy', 'delete', 'prod-gate'], env);
  assert.notEqual(bound.code, 0);
  assert.match(bound.stderr, /policy bindings depend on it.*hoist policy unapply/);
  await hoist(['policy', 'unapply', 'prod-gate', 'shop/web/prod']);
  const stale = JSON.parse(await hoist(['requests', '--project', 'shop', '--state', 'STALE', '-o', 'json']));
  assert.deepEqual(
    stale.map((p: { id: string }) => p.id),
    [waiting.id],
  );
  assert.match(
    await hoist(['policy', 'delete', 'prod-gate', '-o', 'table']),
    /deleted policy prod-gate; no promotion was waiting under it/,
  );
  await hoist(['policy', 'create', '--name=unused']);
  assert.match(
    await hoist(['policy', 'delete', 'unused', '-o', 'table']),
    /deleted policy unused; no promotion was waiting/,
  );
});

test('history, requests and events follow pages up to --limit (100) or --all, and say when more exist', async () => {
  // 105 requests that the pipeline refuses at once (no edge dev → prod): 105 requests, 105 history rows.
  for (let i = 0; i < 105; i++) {
    const r = await api('POST', '/api/v1/projects/shop/applications/web/promotions', {
      digest: image.digest,
      from: 'dev',
      to: ['prod'],
    });
    assert.equal(r.status, 201);
  }
  const list = async (args: string[]) => {
    const r = await runCli([...args, '-o', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    return { items: JSON.parse(r.stdout) as unknown[], stderr: r.stderr };
  };
  const first = await list(['history', '--project', 'shop', '--env', 'prod']);
  assert.equal(first.items.length, 100);
  assert.match(first.stderr, /showing 100 of more; use --limit N or --all/);
  const all = await list(['history', '--project', 'shop', '--env', 'prod', '--all']);
  assert.ok(all.items.length >= 106, `${all.items.length}`);
  assert.equal(all.stderr, '');
  const few = await list(['requests', '--project', 'shop', '--limit', '7']);
  assert.equal(few.items.length, 7);
  assert.match(few.stderr, /showing 7 of more/);
  assert.ok((await list(['requests', '--project', 'shop', '--all'])).items.length >= 108);

  const secret = JSON.parse(
    await hoist(['registry', 'set-hook-secret', 'local', '--kind', 'generic', '-o', 'json']),
  ).secret;
  const sent = await fetch(`${url}/api/v1/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(
      [1, 2, 3].map((i) => ({ id: `e${i}`, repository: 'dev/web', tag: '1.0', digest: image.digest })),
    ),
  });
  assert.equal(sent.status, 200, await sent.text());
  const two = await list(['events', '--limit', '2']);
  assert.equal(two.items.length, 2);
  assert.match(two.stderr, /showing 2 of more/);
  const every = await list(['events', '--all']);
  assert.equal(every.items.length, 3);
  assert.equal(every.stderr, '');
  const bad = await runCli(['history', '--project', 'shop', '--limit', '0'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--limit/);
});
