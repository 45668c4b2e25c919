/**
 * The `hoist` command as a user runs it: exit codes (0 done, 2 bad input naming the bad part, 1 registry or network
 * failure with the registry's code), `--json` results, credentials from docker's config file, inspect and tags.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { buildArtifact, buildMultiPlatform, SBOM_ARTIFACT } from './harness/images.ts';
import { getManifestRaw, pushImage, pushReferrer } from './harness/push.ts';
import { runCli } from './helpers/run-cli.ts';

let anon: TestRegistry;
let basic: TestRegistry;
let dockerConfig: string;
let env: Record<string, string>;
const img = buildMultiPlatform(3, [40_000]);

before(async () => {
  [anon, basic] = await Promise.all([startRegistry(), startRegistry({ auth: 'basic' })]);
  await pushImage(anon.url, 'dev/web', img, { tag: '1.0' });
  await pushReferrer(anon.url, 'dev/web', buildArtifact(img, { artifactType: SBOM_ARTIFACT }));
  dockerConfig = await mkdtemp(join(tmpdir(), 'hoist-docker-config-'));
  await writeFile(
    join(dockerConfig, 'config.json'),
    JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from('alice:wonderland').toString('base64') } } }),
  );
  env = { HOIST_INSECURE_REGISTRIES: `${anon.host},${basic.host}`, DOCKER_CONFIG: dockerConfig };
});
after(async () => {
  await Promise.all([
    anon?.stop(),
    basic?.stop(),
    dockerConfig ? rm(dockerConfig, { recursive: true, force: true }) : undefined,
  ]);
});

test('copy prints a JSON result and keeps the source tag when DST names only a repository', async () => {
  const r = await runCli(['copy', '--json', `${anon.host}/dev/web:1.0`, `${basic.host}/prod/web`], env);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.digest, img.digest);
  assert.deepEqual(out.tags, ['1.0']);
  assert.equal(out.referrersCopied, 1);
  assert.equal(out.blobsStreamed, 8, "3 platforms × (config + layer) and the SBOM's config and layer");
  assert.ok(out.bytesStreamed > 120_000);
  assert.equal(typeof out.seconds, 'number');
  assert.match(r.stderr, /^plan: 8 blobs to stream/m, 'quiet progress lines when not on a terminal');
  assert.equal(
    (await getManifestRaw(basic.url, 'prod/web', '1.0', { creds: { username: 'alice', password: 'wonderland' } }))
      .digest,
    img.digest,
  );
});

test('--src-creds/--dest-creds override the docker config', async () => {
  const r = await runCli(
    ['copy', '-q', '--dest-creds', 'alice:wrong', `${anon.host}/dev/web:1.0`, `${basic.host}/other/web`],
    env,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /UNAUTHORIZED/);
  assert.match(r.stderr, /alice/);
});

test('bad input exits 2 and names the bad part', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['copy', `${anon.host}/Dev/web:1`, `${anon.host}/x`], /SRC: invalid reference .*component "Dev"/],
    [['copy', `${anon.host}/dev/web:1`, `${anon.host}/x@sha256:1234`], /DST: invalid reference .*64 lower-case hex/],
    [['copy', `${anon.host}/dev/web:1.0`, `${anon.host}/x`, '--concurrency', 'many'], /--concurrency: "many"/],
    [['copy', `${anon.host}/dev/web:1.0`, `${anon.host}/x`, '--tag', '-x'], /--tag: tag "-x"/],
    [['copy', `${anon.host}/dev/web:1.0`], /missing required argument 'DST'/],
    [['copy', '--bogus', 'a/b', 'c/d'], /unknown option '--bogus'/],
    [
      ['copy', `${anon.host}/dev/web:1.0`, `${anon.host}/x`, '--src-creds', 'nocolon'],
      /--src-creds: expected USERNAME:PASSWORD/,
    ],
    [
      ['copy', `${anon.host}/dev/web:1.0`, `${anon.host}/x@sha256:${'0'.repeat(64)}`],
      /destination digest: the source is sha256:/,
    ],
    [['tags', `${anon.host}/dev/web:1.0`], /REPO: name a repository without a tag/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
  }
});

test('registry and network failures exit 1 with the registry code or the network cause', async () => {
  const missing = await runCli(['copy', `${anon.host}/dev/web:nope`, `${anon.host}/prod/web`], env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /MANIFEST_UNKNOWN/);
  const down = await runCli(['copy', '127.0.0.1:1/dev/web:1.0', `${anon.host}/prod/web`], {
    HOIST_INSECURE_REGISTRIES: `127.0.0.1:1,${anon.host}`,
  });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /ECONNREFUSED/);
  assert.match(down.stderr, /hint: is the registry running/);
});

test('inspect shows digest, platforms, size and referrers; tags lists tags', async () => {
  const r = await runCli(['inspect', `${anon.host}/dev/web:1.0`], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Digest: +${img.digest}`));
  assert.match(r.stdout, /linux\/amd64/);
  assert.match(r.stdout, /linux\/arm\/v7/);
  assert.match(r.stdout, /application\/spdx\+json/);
  const j = JSON.parse((await runCli(['inspect', '--json', `${anon.host}/dev/web@${img.digest}`], env)).stdout);
  assert.equal(j.platforms.length, 3);
  assert.equal(j.referrers[0].artifactType, SBOM_ARTIFACT);
  const t = await runCli(['tags', '--json', `${anon.host}/dev/web`], env);
  assert.ok(JSON.parse(t.stdout).includes('1.0'));
});
