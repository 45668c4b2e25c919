/**
 * `hoist sso set|show|unset` and `hoist login --sso` as a user runs them, against a real OpenID provider (oidc-provider
 * on loopback): the CLI prints the sign-in URL and listens on 127.0.0.1; the browser's part is driven in plain HTTP
 * (sign in and consent at the provider, then the redirects back to the CLI); the CLI stores an API token that works.
 * A denied consent ends the CLI with the provider's reason.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { caller, startApi, type TestApi } from './helpers/api.ts';
import { HttpBrowser } from './helpers/http-browser.ts';
import { runCli, runCliWithStdin, type CliResult } from './helpers/run-cli.ts';
import { startOpenIdProvider, type OpenIdProvider } from './harness/openid-provider.ts';

const ENTRY = fileURLToPath(new URL('../dist/hoist.mjs', import.meta.url));

let api: TestApi;
let hoist: string;
let op: OpenIdProvider;
let home: string;
let adminEnv: Record<string, string>;

before(async () => {
  api = await startApi('pglite');
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  hoist = `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`;
  op = await startOpenIdProvider({ redirectUris: [`${hoist}/api/v1/sso/callback`], groupsInIdToken: true });
  op.accounts.set('dora-sub', { preferred_username: 'dora', groups: ['team-a'] });
  const admin = caller(api.app, await api.tokenFor('admin', { admin: true }));
  assert.equal((await admin('POST', '/api/v1/projects', { name: 'shop' })).status, 201);
  home = await mkdtemp(join(tmpdir(), 'hoist-cli-sso-'));
  adminEnv = { HOIST_SERVER: hoist, HOIST_TOKEN: await api.tokenFor('admin') };
});
after(async () => {
  await api?.close();
  await op?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

/** Runs `hoist login --sso --no-browser`, and plays the browser from the URL it prints. */
async function loginWithSso(login: string, o: { deny?: boolean } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [ENTRY, 'login', '--server', hoist, '--sso', '--no-browser'], {
    env: { ...process.env, XDG_CONFIG_HOME: home, HOIST_SERVER: '', HOIST_TOKEN: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const found = /(http:\/\/\S+\/api\/v1\/sso\/login\?\S+)/.exec(stderr)?.[1];
      if (found) resolve(found);
    });
    child.on('exit', () => reject(new Error(`the CLI exited before printing a URL: ${stderr}`)));
  });
  const browser = new HttpBrowser();
  const start = await browser.request('GET', url);
  const back = await browser.atProvider(start.location!, login, {
    callback: `${hoist}/api/v1/sso/callback`,
    ...(o.deny ? { deny: true } : {}),
  });
  const done = await browser.request('GET', back);
  assert.equal(done.status, 303);
  assert.match(done.location!, /^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
  const atCli = await browser.request('GET', done.location!);
  assert.equal(atCli.status, o.deny ? 400 : 200, atCli.text);
  return { code: await exited, stdout, stderr };
}

test('hoist sso set and show: the secret from standard input, never shown; group roles as given', async () => {
  const set = await runCliWithStdin(
    [
      'sso',
      'set',
      '--issuer',
      op.issuer,
      '--client-id',
      op.clientId,
      '--client-secret-stdin',
      '--name',
      'Test IdP',
      '--scope',
      'openid',
      '--scope',
      'profile',
      '--scope',
      'groups',
      '--group-role',
      'team-a:shop:promoter',
      '-o',
      'json',
    ],
    `${op.clientSecret}\n`,
    adminEnv,
  );
  assert.equal(set.code, 0, set.stderr);
  const shown = await runCli(['sso', 'show', '-o', 'json'], adminEnv);
  assert.equal(shown.code, 0, shown.stderr);
  const config = JSON.parse(shown.stdout) as { hasSecret: boolean; groupRoles: string[]; displayName: string };
  assert.equal(config.hasSecret, true);
  assert.deepEqual(config.groupRoles, ['team-a:shop:promoter']);
  assert.equal(shown.stdout.includes(op.clientSecret), false);
  const bad = await runCli(
    ['sso', 'set', '--issuer', op.issuer, '--client-id', 'x', '--group-role', 'team-a:shop:chief'],
    adminEnv,
  );
  assert.equal(bad.code, 2, 'bad input');
  assert.match(bad.stderr, /role must be one of/);
});

test('hoist login --sso: browser at the provider, back to the CLI, an API token stored that works', async () => {
  const r = await loginWithSso('dora-sub');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /signed in to .* as dora/);
  const stored = JSON.parse(await readFile(join(home, 'hoist', 'config.json'), 'utf8')) as { token: string };
  const dora = caller(api.app, stored.token);
  const me = await dora('GET', '/api/v1/me');
  assert.equal(me.body.username, 'dora');
  assert.deepEqual(me.body.memberships, [{ project: 'shop', role: 'promoter', environments: null }]);
});

test('hoist login --sso with a denied consent exits with the provider’s reason', async () => {
  const r = await loginWithSso('dora-sub', { deny: true });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /access_denied/);
});

test('hoist sso unset turns it off', async () => {
  assert.equal((await runCli(['sso', 'unset'], adminEnv)).code, 0);
  const shown = await runCli(['sso', 'show'], adminEnv);
  assert.notEqual(shown.code, 0);
  assert.match(shown.stderr, /does not exist/);
});
