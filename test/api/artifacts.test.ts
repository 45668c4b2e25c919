/**
 * Registering artifacts against a real registry on both backends: hoist reads digest, platforms, labels and
 * attachments itself, knows which environments hold the image (a repository per stage, or a tag convention),
 * answers the same artifact on re-registration, and refuses unknown registries and bad references clearly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildArtifact, buildImage, buildMultiPlatform, SBOM_ARTIFACT, SIGNATURE_ARTIFACT } from '../harness/images.ts';
import { pushImage, pushReferrer } from '../harness/push.ts';

let reg: TestRegistry;
const image = buildMultiPlatform(3, [20_000]);
const labelled = buildImage({
  layers: [1000],
  labels: { team: 'shop', 'org.opencontainers.image.revision': 'c0ffee' },
});
const armOnly = buildImage({ layers: [800], platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '1.0' });
  await pushReferrer(reg.url, 'dev/web', buildArtifact(image, { artifactType: SIGNATURE_ARTIFACT }));
  await pushReferrer(reg.url, 'dev/web', buildArtifact(image, { artifactType: SBOM_ARTIFACT }));
  await pushImage(reg.url, 'apps/web', labelled, { tag: '2.0-qa' });
  await pushImage(reg.url, 'dev/web', armOnly, { tag: 'arm' });
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`artifacts API [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    before(async () => {
      api = await startApi(backend);
      const tokens: Record<string, string> = {
        root: await api.tokenFor('root', { admin: true }),
        devon: await api.tokenFor('devon'),
        vera: await api.tokenFor('vera'),
      };
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'prod/', 'apps/'])
        await as('root', 'PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix });
      await as('root', 'POST', '/api/v1/projects/shop/applications', { name: 'web' });
      await as('root', 'PUT', '/api/v1/projects/shop/environments/dev', {
        kind: 'repository',
        registry: 'local',
        repository: 'dev/{app}',
      });
      await as('root', 'PUT', '/api/v1/projects/shop/environments/prod', {
        kind: 'repository',
        registry: 'local',
        repository: 'prod/{app}',
      });
      await as('root', 'PUT', '/api/v1/projects/shop/environments/qa', {
        kind: 'tag',
        registry: 'local',
        repository: 'apps/{app}',
        tag: '{tag}-qa',
      });
      await as('root', 'POST', '/api/v1/projects/shop/members', { username: 'devon', role: 'developer' });
      await as('root', 'POST', '/api/v1/projects/shop/members', { username: 'vera', role: 'viewer' });
    });
    after(() => api?.close());

    test('a developer registers what CI built; hoist reads the image and knows where it is', async () => {
      const r = await as('devon', 'POST', '/api/v1/projects/shop/applications/web/artifacts', {
        reference: `${reg.host}/dev/web:1.0`,
        branch: 'main',
        commit: 'c0ffee',
        builder: 'ci-bot',
        ciUrl: 'https://ci.example/1',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const a = r.body;
      assert.equal(a.digest, image.digest);
      assert.equal(a.mediaType, 'application/vnd.oci.image.index.v1+json');
      assert.deepEqual(a.platforms, ['linux/amd64', 'linux/arm64', 'linux/arm/v7']);
      assert.deepEqual(
        a.referrers.map((x: { artifactType: string }) => x.artifactType).sort(),
        [SBOM_ARTIFACT, SIGNATURE_ARTIFACT].sort(),
      );
      assert.deepEqual(
        a.environments.map((e: { environment: string }) => e.environment),
        ['dev'],
      );
      assert.deepEqual(a.build, { branch: 'main', commit: 'c0ffee', builder: 'ci-bot', ciUrl: 'https://ci.example/1' });
      const again = await as('devon', 'POST', '/api/v1/projects/shop/applications/web/artifacts', {
        reference: `${reg.host}/dev/web@${image.digest}`,
      });
      assert.equal(again.status, 200, 'the same digest answers the existing artifact');
      assert.equal(
        (await as('vera', 'GET', `/api/v1/projects/shop/applications/web/artifacts/${image.digest}`)).body.registeredBy,
        'devon',
      );
    });

    test('a tag-convention stage, labels, listing by environment, and the viewer cannot register', async () => {
      const qa = (
        await as('devon', 'POST', '/api/v1/projects/shop/applications/web/artifacts', {
          reference: `${reg.host}/apps/web:2.0-qa`,
        })
      ).body;
      assert.deepEqual(
        qa.environments.map((e: { environment: string; tag: string }) => [e.environment, e.tag]),
        [['qa', '2.0-qa']],
      );
      assert.equal(qa.labels.team, 'shop');
      assert.deepEqual(
        (await as('vera', 'GET', '/api/v1/projects/shop/applications/web/artifacts?environment=qa')).body.items.map(
          (x: { digest: string }) => x.digest,
        ),
        [labelled.digest],
      );
      assert.equal((await as('vera', 'GET', '/api/v1/projects/shop/applications/web/artifacts')).body.items.length, 2);
      assert.equal(
        (
          await as('vera', 'POST', '/api/v1/projects/shop/applications/web/artifacts', {
            reference: `${reg.host}/dev/web:1.0`,
          })
        ).status,
        403,
      );
    });

    test('unknown registries, bad references and missing tags are refused clearly', async () => {
      const unknown = await as('devon', 'POST', '/api/v1/projects/shop/applications/web/artifacts', {
        reference: '127.0.0.1:1/dev/web:1',
      });
      assert.deepEqual([unknown.status, unknown.body.error.details], [400, { field: 'reference' }]);
      assert.match(unknown.body.error.message, /no registry at 127\.0\.0\.1:1 is known to hoist/);
      const bad = await as('devon', 'POST', '/api/v1/projects/shop/applications/web/artifacts', {
        reference: `${reg.host}/Dev/web:1`,
      });
      assert.match(bad.body.error.message, /component "Dev"/);
      const missing = await as('devon', 'POST', '/api/v1/projects/shop/applications/web/artifacts', {
        reference: `${reg.host}/dev/web:nope`,
      });
      assert.equal(missing.status, 502);
      assert.equal(missing.body.error.details.registryCode, 'MANIFEST_UNKNOWN');
    });

    test('a single-platform image has its platform, read from its config blob', async () => {
      const r = await as('devon', 'POST', '/api/v1/projects/shop/applications/web/artifacts', {
        reference: `${reg.host}/dev/web:arm`,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.deepEqual(r.body.platforms, ['linux/arm/v7']);
    });
  });
}
