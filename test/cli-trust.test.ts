/**
 * `hoist trust` from the CLI against a real `hoist serve`: a Sigstore identity trusted with
 * `--sigstore-issuer/--sigstore-subject-regex --trusted-root FILE`, listed beside a public key, and removed; a key
 * and an identity in one call, or an identity without its trusted root, exit 2 naming the flag before anything is
 * sent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from './harness/cosign.ts';
import { GITHUB_ISSUER, startSigstore } from './harness/sigstore.ts';
import { runCli, runCliWithStdin } from './helpers/run-cli.ts';
import { seedDataDir, startServe, type Served } from './helpers/serve.ts';

const PASSWORD = 'cli-trust-password';
let dir: string;
let env: Record<string, string>;
let server: Served | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-cli-trust-'));
  env = { XDG_CONFIG_HOME: join(dir, 'config'), HOIST_ADMIN_PASSWORD: PASSWORD };
  await seedDataDir(join(dir, 'data'));
  server = await startServe({ dataDir: join(dir, 'data'), env });
  const login = await runCliWithStdin(['login', '--server', server.url, '--password-stdin'], `${PASSWORD}\n`, env);
  assert.equal(login.code, 0, login.stderr);
});
after(async () => {
  server?.proc.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const hoist = async (args: string[]) => {
  const r = await runCli(args, env);
  assert.equal(r.code, 0, `hoist ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

test('a Sigstore identity is trusted, listed beside a key, and removed; mixed or incomplete flags exit 2', async () => {
  await hoist(['project', 'create', 'shop']);
  const trustedRoot = join(dir, 'trusted_root.json');
  await writeFile(trustedRoot, (await startSigstore()).trustedRoot());
  const key = join(dir, 'cosign.pub');
  await writeFile(key, generateKey('ecdsa').publicPem);
  const identity = [
    '--sigstore-issuer',
    GITHUB_ISSUER,
    '--sigstore-subject-regex',
    '^https://github\\.com/shop/',
    '--trusted-root',
    trustedRoot,
  ];
  const added = JSON.parse(await hoist(['trust', 'add', 'ci', '--project', 'shop', ...identity, '-o', 'json']));
  assert.equal(added.algorithm, 'sigstore');
  assert.deepEqual(
    [added.sigstore.issuer, added.sigstore.subjectRegex],
    [GITHUB_ISSUER, '^https://github\\.com/shop/'],
  );
  await hoist(['trust', 'add', 'release-key', '--project', 'shop', '--key', key]);
  const listed = JSON.parse(await hoist(['trust', 'list', '--project', 'shop', '-o', 'json']));
  assert.deepEqual(
    listed.map((r: { name: string; algorithm: string }) => [r.name, r.algorithm]),
    [
      ['ci', 'sigstore'],
      ['release-key', 'ecdsa-p256'],
    ],
  );

  const both = await runCli(['trust', 'add', 'x', '--project', 'shop', '--key', key, ...identity], env);
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /--key/);
  const noRoot = await runCli(
    ['trust', 'add', 'x', '--project', 'shop', '--sigstore-issuer', GITHUB_ISSUER, '--sigstore-subject', 'a@b.c'],
    env,
  );
  assert.equal(noRoot.code, 2, noRoot.stderr);
  assert.match(noRoot.stderr, /--trusted-root/);

  await hoist(['trust', 'remove', 'ci', '--project', 'shop']);
  const left = JSON.parse(await hoist(['trust', 'list', '--project', 'shop', '-o', 'json']));
  assert.deepEqual(
    left.map((r: { name: string }) => r.name),
    ['release-key'],
  );
});
