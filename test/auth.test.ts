/**
 * Copies between registries that require credentials: htpasswd basic auth and token auth (our JWT issuer), with
 * tokens fetched once per scope set and refused credentials reported as UNAUTHORIZED.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from './harness/registry.ts';
import { buildImage, buildArtifact, SIGNATURE_ARTIFACT } from './harness/images.ts';
import { getManifestRaw, pushImage, pushReferrer } from './harness/push.ts';
import { copyImage } from '../src/copy/copy-image.ts';
import { RegistryError } from '../src/errors.ts';
import { openRepository } from '../src/oci/registry.ts';
import { ref, testHost } from './helpers/hosts.ts';

let basic: TestRegistry;
let token: TestRegistry;
const alice = { username: 'alice', password: 'wonderland' };

before(async () => {
  [basic, token] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token' })]);
});
after(async () => {
  await Promise.all([basic?.stop(), token?.stop()]);
});

test('copy from a basic-auth registry to a token-auth registry, referrers included', async () => {
  const img = buildImage({ layers: [100_000, 20_000] });
  await pushImage(basic.url, 'dev/app', img, { tag: '1.0', creds: alice });
  await pushReferrer(basic.url, 'dev/app', buildArtifact(img, { artifactType: SIGNATURE_ARTIFACT }), { creds: alice });
  const targetHost = testHost(token.host, alice);
  const before = token.tokenRequests?.() ?? 0;
  const r = await copyImage({
    source: ref(`${basic.host}/dev/app:1.0`),
    sourceHost: testHost(basic.host, alice),
    target: ref(`${token.host}/prod/app`),
    targetHost,
  });
  assert.equal(r.digest, img.digest);
  assert.equal(r.referrersCopied, 1);
  // One token for the target's push+pull scope set, however many requests were made.
  assert.equal((token.tokenRequests?.() ?? 0) - before, 1);
  assert.equal((await getManifestRaw(token.url, 'prod/app', '1.0', { creds: alice })).digest, img.digest);
});

test('same-registry copy on a token registry mounts with one token covering both repositories', async () => {
  const img = buildImage({ layers: [30_000] });
  await pushImage(token.url, 'dev/tok', img, { tag: 'a', creds: alice });
  const host = testHost(token.host, alice);
  const r = await copyImage({
    source: ref(`${token.host}/dev/tok:a`),
    sourceHost: host,
    target: ref(`${token.host}/prod/tok:a`),
    targetHost: host,
  });
  assert.equal(r.blobsMounted, 2);
  assert.equal(r.bytesStreamed, 0);
});

test('missing or wrong credentials fail with UNAUTHORIZED and say so', async () => {
  const img = buildImage({ layers: [10] });
  await pushImage(basic.url, 'dev/locked', img, { tag: 'x', creds: alice });
  for (const [host, creds] of [
    [basic.host, undefined],
    [basic.host, { username: 'alice', password: 'nope' }],
    [token.host, undefined],
    [token.host, { username: 'mallory', password: 'x' }],
  ] as const) {
    const repo = openRepository(testHost(host, creds), 'dev/locked');
    await assert.rejects(
      repo.headManifest('x'),
      (e: unknown) => e instanceof RegistryError && e.status === 401 && e.registryCode === 'UNAUTHORIZED',
      `${host} ${creds?.username}`,
    );
  }
});
