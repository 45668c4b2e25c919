/**
 * What `npm pack` ships and the one version string: the tarball holds the CLI, its bundle, the web console and the
 * licence (and no sources or tests); `hoist --version`, `/healthz` and the OpenAPI document all answer package.json's
 * version.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startApi, type TestApi } from './helpers/api.ts';
import { runCli } from './helpers/run-cli.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
  license: string;
};

let api: TestApi;
before(async () => {
  api = await startApi('pglite');
});
after(async () => {
  await api?.close();
});

test('the CLI, /healthz and the OpenAPI document answer package.json version', async () => {
  const cli = await runCli(['--version']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout.trim(), pkg.version);
  assert.deepEqual((await api.app.inject({ url: '/healthz' })).json(), { status: 'ok', version: pkg.version });
  assert.equal((await api.app.inject({ url: '/api/v1/openapi.json' })).json().info.version, pkg.version);
});

test('npm pack ships bin/hoist, the bundle, the web console and the licence, and no sources', async () => {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    timeout: 60_000,
  });
  const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  for (const shipped of ['bin/hoist', 'dist/hoist.mjs', 'web/dist/index.html', 'LICENSE', 'README.md', 'package.json'])
    assert.ok(files.includes(shipped), `${shipped} is in the tarball`);
  assert.deepEqual(
    files.filter((f) => /^(src|test|scripts|bench|web\/src)\//.test(f)),
    [],
    'no sources, tests or scripts',
  );
  assert.equal(pkg.license, 'Apache-2.0');
  assert.match(readFileSync(new URL('../LICENSE', import.meta.url), 'utf8'), /Apache License\s+Version 2\.0/);
});
