/**
 * `hoist verify` and `hoist check-deploy --require-attestation` as a user runs them (the built CLI): verify reads the
 * registry itself with a key file (no server), exits 0 when the chain reaches the environment and 3 with the reason
 * when it does not (another environment, another key, an unsigned image); without --key it takes the keys of the
 * server it is logged in to. The deploy gate refuses a digest without a verified attestation, and one whose attestation
 * is still pending (attached by its own job right after PROMOTED). CLI behaviour only
 * (the store runs on both backends in test/api/attestations.test.ts), so this file uses the embedded database.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caller, startApi, type TestApi } from './helpers/api.ts';
import { runCli } from './helpers/run-cli.ts';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { buildImage } from './harness/images.ts';
import { pushImage } from './harness/push.ts';
import { generateKey } from './harness/cosign.ts';

const P = '/api/v1/projects/shop';
const image = buildImage({ layers: [300] });
const unsigned = buildImage({ layers: [200] });
let reg: TestRegistry;
let api: TestApi;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'hoist-verify-'));
const pub = join(dir, 'pub.pem');
const stranger = join(dir, 'stranger.pem');

before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '1.0' });
  await pushImage(reg.url, 'prod/web', unsigned, { tag: 'manual' });
  api = await startApi('pglite');
  const root = caller(api.app, await api.tokenFor('root', { admin: true }));
  await root('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
  await root('POST', '/api/v1/projects', { name: 'shop' });
  for (const prefix of ['dev/', 'staging/', 'prod/'])
    await root('PUT', `${P}/namespaces`, { registry: 'local', prefix });
  await root('POST', `${P}/applications`, { name: 'web' });
  for (const e of ['dev', 'staging', 'prod'])
    await root('PUT', `${P}/environments/${e}`, { kind: 'repository', registry: 'local', repository: `${e}/{app}` });
  await root('PUT', `${P}/pipeline`, {
    edges: [
      { from: 'dev', to: 'staging' },
      { from: 'staging', to: 'prod' },
    ],
  });
  await root('POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:1.0` });
  for (const [from, to] of [
    ['dev', 'staging'],
    ['staging', 'prod'],
  ] as const) {
    const r = await root('POST', `${P}/applications/web/promotions`, { digest: image.digest, from, to: [to] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    while (await api.services.runner.runOne());
    // PROMOTED once the tag is written; the attestation follows by its own job. prod's is left pending for the
    // first test, which attaches it.
    if (to === 'staging') while (await api.services.attestor?.runOne());
  }
  writeFileSync(pub, (await root('GET', '/api/v1/signing-key')).body.items[0].publicKey);
  writeFileSync(stranger, generateKey('ecdsa').publicPem);
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const address = api.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  env = {
    HOIST_SERVER: `http://127.0.0.1:${port}`,
    HOIST_TOKEN: await api.tokenFor('root'),
    HOIST_INSECURE_REGISTRIES: reg.host,
    XDG_CONFIG_HOME: dir,
  };
});
after(async () => {
  await api?.close();
  await reg?.stop();
});

test('check-deploy --require-attestation refuses while the attestation is pending, then passes once it is attached', async () => {
  const check = () =>
    runCli(
      [
        'check-deploy',
        '--project',
        'shop',
        '--env',
        'prod',
        '--digest',
        image.digest,
        '--require-attestation',
        '-o',
        'table',
      ],
      env,
    );
  const pending = await check();
  assert.equal(pending.code, 3, pending.stdout + pending.stderr);
  assert.match(pending.stdout, /NOT attested: the attestation of sha256:[0-9a-f]{64} in prod is pending/);
  const shown = await runCli(
    ['artifact', 'show', image.digest, '--project', 'shop', '--app', 'web', '-o', 'table'],
    env,
  );
  assert.match(shown.stdout, /prod\s+pending\s+false/);
  assert.equal(await api.services.attestor?.runOne(), true);
  const attached = await check();
  assert.equal(attached.code, 0, attached.stdout + attached.stderr);
});

test('hoist verify: exit 0 with the chain when it reaches the environment, with a key file and no server', async () => {
  const r = await runCli(['verify', `${reg.host}/prod/web@${image.digest}`, '--env', 'prod', '--key', pub], {
    ...env,
    HOIST_SERVER: 'http://127.0.0.1:1',
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /chain dev → staging → prod/);
  assert.match(r.stdout, /1\. dev → staging/);
  assert.match(r.stdout, /2\. staging → prod/);
  assert.match(r.stdout, /requested by root/);
  assert.match(r.stdout, /verified: prod reached through 2 signed promotion/);
  const byTag = await runCli(['verify', `${reg.host}/prod/web:1.0`, '--env', 'staging', '--key', pub, '--json'], env);
  assert.equal(byTag.code, 0, byTag.stdout + byTag.stderr);
  assert.equal(JSON.parse(byTag.stdout).verdict.ok, true);
});

test('hoist verify: exit 3 with the reason for another environment, another key, an unsigned image', async () => {
  const ref = `${reg.host}/prod/web@${image.digest}`;
  const notThere = await runCli(['verify', ref, '--env', 'prod-eu', '--key', pub], env);
  assert.equal(notThere.code, 3);
  assert.match(
    notThere.stdout,
    /NOT verified for prod-eu: no valid hoist attestation promotes this digest into prod-eu/,
  );
  const wrongKey = await runCli(['verify', ref, '--env', 'prod', '--key', stranger], env);
  assert.equal(wrongKey.code, 3);
  assert.match(wrongKey.stdout, /does not verify with .*stranger\.pem/);
  const none = await runCli(['verify', `${reg.host}/prod/web:manual`, '--env', 'prod', '--key', pub], env);
  assert.equal(none.code, 3);
  assert.match(none.stdout, /no hoist attestation is attached to this digest/);
  const badKey = await runCli(['verify', ref, '--env', 'prod', '--key', join(dir, 'missing.pem')], env);
  assert.equal(badKey.code, 2, 'a key file that cannot be read is bad input');
});

test('hoist verify without --key uses the logged-in server keys; check-deploy --require-attestation gates on them', async () => {
  const r = await runCli(['verify', `${reg.host}/prod/web@${image.digest}`, '--env', 'prod'], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const ok = await runCli(
    [
      'check-deploy',
      '--project',
      'shop',
      '--env',
      'prod',
      '--digest',
      image.digest,
      '--require-attestation',
      '-o',
      'table',
    ],
    env,
  );
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /attested: signed promotions dev → staging → prod/);
  const no = await runCli(
    [
      'check-deploy',
      '--project',
      'shop',
      '--env',
      'prod',
      '--digest',
      unsigned.digest,
      '--require-attestation',
      '-o',
      'table',
    ],
    env,
  );
  assert.equal(no.code, 3);
  assert.match(no.stdout, /NOT attested: .* was never promoted to prod/);
});

test('hoist artifact show lists each environment the image reached with its attestation verdict', async () => {
  const r = await runCli(['artifact', 'show', image.digest, '--project', 'shop', '--app', 'web', '-o', 'table'], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /promotion attestations \(read from the registry now\)/);
  assert.match(r.stdout, /staging\s+attached\s+true\s+signed promotions dev → staging/);
  assert.match(r.stdout, /prod\s+attached\s+true\s+signed promotions dev → staging → prod/);
});
