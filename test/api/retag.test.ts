/**
 * Tags as CI uses them, on both backends with a real distribution registry whose notifications point at hoist: an
 * image built under a scratch tag (`dev-9`, no rule matches) and tagged as a release later (`v9`, same digest) is
 * promoted by the rule for `v9`, keeps both tags, and the dry run sees `v9`; and a second actor — a correctly signed
 * sender that lies — names a tag the registry does not have, or a tag that names another digest there by now: both
 * are recorded as ignored with the reason and promote nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage, type TestManifest } from '../harness/images.ts';
import { getManifestRaw, pushImage } from '../harness/push.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SECRET = 'retag-hook-secret-0123456789abcdef';
const GENERIC = 'retag-generic-secret-0123456789abcdef';

interface EventRow {
  id: string;
  repository: string;
  tag: string | null;
  digest: string;
  state: string;
  outcome: string | null;
}

for (const backend of BACKENDS) {
  void describe(`tags and events [${backend}]`, () => {
    let api: TestApi;
    let reg: TestRegistry;
    let base: string;
    let root: Call;
    const P = '/api/v1/projects/shop';
    const inEnv = async (env: string, tag: string): Promise<string | undefined> => {
      const m = await getManifestRaw(reg.url, `${env}/web`, tag);
      return m.status === 200 ? m.digest : undefined;
    };
    /** Events worked (not pending) for a digest, by tag. */
    // The push into dev, not the promotion's own write into staging coming back (an echo, IGNORED).
    const worked = async (digest: string, tag: string): Promise<EventRow | undefined> =>
      ((await root('GET', '/api/v1/events?limit=1000')).body.items as EventRow[]).find(
        (e) =>
          e.repository === 'dev/web' &&
          e.digest === digest &&
          e.tag === tag &&
          e.state !== 'PENDING' &&
          e.state !== 'WORKING',
      );
    const generic = (body: unknown) =>
      fetch(`${base}/api/v1/hooks/generic`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${GENERIC}` },
        body: JSON.stringify(body),
      });
    const build = (): TestManifest => buildImage({ layers: [600] });

    before(async () => {
      api = await startApi(backend);
      base = await api.app.listen({ port: 0, host: '127.0.0.1' });
      reg = await startRegistry({
        notificationsUrl: `${base}/api/v1/hooks/distribution`,
        notificationHeaders: { Authorization: `Bearer ${SECRET}` },
      });
      root = caller(api.app, await api.tokenFor('root', { admin: true }));
      await root('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      assert.equal((await root('PUT', '/api/v1/registries/local/hooks/distribution', { secret: SECRET })).status, 200);
      assert.equal((await root('PUT', '/api/v1/registries/local/hooks/generic', { secret: GENERIC })).status, 200);
      await root('POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'staging/'])
        await root('PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix });
      await root('POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'staging'])
        await root('PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await root('PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] });
      const rule = await root('POST', `${P}/rules`, {
        name: 'releases',
        from: 'dev',
        to: 'staging',
        criteria: [{ field: 'tag', op: 'startsWith', value: 'v' }],
        tagTemplate: '%n',
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      await api.services.intake.start();
      await api.services.runner.start();
    });
    after(async () => {
      await api?.services.intake.stop();
      await api?.services.runner.stop();
      await api?.close();
      await reg?.stop();
    });

    test('a digest built as dev-9 and tagged v9 later is promoted for v9 and has both tags', async () => {
      const image = build();
      await pushImage(reg.url, 'dev/web', image, { tag: 'dev-9' });
      const scratch = await waitFor('the dev-9 event', () => worked(image.digest, 'dev-9'));
      assert.match(scratch.outcome ?? '', /0 promotion\(s\) opened/);

      await pushImage(reg.url, 'dev/web', image, { tag: 'v9' });
      const release = await waitFor('the v9 event', () => worked(image.digest, 'v9'));
      assert.equal(release.state, 'DONE');
      assert.match(release.outcome ?? '', /1 promotion\(s\) opened/);
      assert.equal(await waitFor('staging/web:v9', () => inEnv('staging', 'v9')), image.digest);

      const artifact = (await root('GET', `${P}/applications/web/artifacts/${image.digest}`)).body;
      assert.deepEqual(artifact.tags, ['dev-9', 'v9']);
      const listed = (await root('GET', `${P}/applications/web/artifacts?environment=dev`)).body.items.find(
        (a: { digest: string }) => a.digest === image.digest,
      );
      assert.deepEqual(listed.tags, ['dev-9', 'v9']);
      const history = await waitFor('the history entry', async () => {
        const items = (await root('GET', `${P}/history?digest=${image.digest}`)).body.items;
        return items.length > 0 ? items : undefined;
      });
      assert.deepEqual(
        history.map((h: { to: string; tag: string; requestedBy: string }) => [h.to, h.tag, h.requestedBy]),
        [['staging', 'v9', 'rule:releases']],
      );

      const dry = await root('POST', `${P}/rules/dry-run`, {
        name: 'releases-2',
        from: 'dev',
        to: 'staging',
        criteria: [{ field: 'tag', op: 'startsWith', value: 'v' }],
      });
      assert.equal(dry.status, 200, JSON.stringify(dry.body));
      assert.deepEqual(
        dry.body.artifacts
          .filter((a: { digest: string }) => a.digest === image.digest)
          .map((a: { tag: string; matches: boolean }) => [a.tag, a.matches]),
        [['v9', true]],
      );
      // With a tag template, each match says the tag it would be promoted under (the console's preview).
      const templated = await root('POST', `${P}/rules/dry-run`, {
        name: 'releases-2',
        from: 'dev',
        to: 'staging',
        criteria: [{ field: 'tag', op: 'startsWith', value: 'v' }],
        tagTemplate: '{tag}-{env}-{app}',
      });
      assert.equal(templated.status, 200, JSON.stringify(templated.body));
      const mine = templated.body.artifacts.find((a: { digest: string }) => a.digest === image.digest);
      assert.equal(mine.targetTag, 'v9-staging-web');
      assert.ok(
        templated.body.artifacts.every(
          (a: { matches: boolean; targetTag?: string }) => a.matches === (a.targetTag !== undefined),
        ),
        'only matches get a tag',
      );

      // The same tag again (the registry retries; CI re-tags): promoted once, however many events.
      await pushImage(reg.url, 'dev/web', image, { tag: 'v9.0' });
      await waitFor('the v9.0 event', () => worked(image.digest, 'v9.0'));
      assert.equal((await root('GET', `${P}/history?digest=${image.digest}`)).body.items.length, 1, 'promoted once');
    });

    test("a policy judges the request's tag, when the request is made and when the policy changes", async () => {
      // Built as scratch-11, released as v11 (the rule takes it to staging as v11), then asked into prod without a tag:
      // the request's tag is the one the image has in staging, v11, not the scratch tag it was first seen with.
      const image = build();
      await pushImage(reg.url, 'dev/web', image, { tag: 'scratch-11' });
      await waitFor('the scratch-11 event', () => worked(image.digest, 'scratch-11'));
      await pushImage(reg.url, 'dev/web', image, { tag: 'v11' });
      assert.equal(await waitFor('staging/web:v11', () => inEnv('staging', 'v11')), image.digest);
      // The tag is written before the attestation and PROMOTED: ask for prod only once staging's promotion is recorded.
      await waitFor('the promotion to staging recorded', async () => {
        const artifact = (await root('GET', `${P}/applications/web/artifacts/${image.digest}`)).body;
        return artifact.environments.some((e: { environment: string }) => e.environment === 'staging') || undefined;
      });
      await root('PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix: 'prod/' });
      await root('PUT', `${P}/environments/prod`, { kind: 'repository', registry: 'local', repository: 'prod/{app}' });
      await root('PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
        ],
      });
      const policy = await root('POST', '/api/v1/policies', {
        name: 'releases-only',
        passConditions: ['image.tag.startsWith("v")'],
        approverCount: 1,
      });
      assert.equal(policy.status, 201, JSON.stringify(policy.body));
      await root('POST', '/api/v1/policies/releases-only/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
      });
      const req = await root('POST', `${P}/applications/web/promotions`, {
        digest: image.digest,
        from: 'staging',
        to: ['prod'],
      });
      assert.equal(req.status, 201, JSON.stringify(req.body));
      assert.equal(req.body.targets[0].state, 'AWAITING_APPROVAL', JSON.stringify(req.body.targets[0]));
      // A stricter policy (two approvals) re-evaluates the waiting target on the same tag: it keeps waiting, for two.
      const updated = await root('PUT', '/api/v1/policies/releases-only', {
        passConditions: ['image.tag.startsWith("v")'],
        approverCount: 2,
      });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      const after = (await root('GET', `${P}/promotions/${req.body.id}`)).body.targets[0];
      assert.equal(after.state, 'AWAITING_APPROVAL', JSON.stringify(after));
      assert.equal(after.approvalsNeeded, 2);
    });

    test('a signed event for a tag the registry does not have is ignored with the reason and promotes nothing', async () => {
      const image = build();
      await pushImage(reg.url, 'dev/web', image, { tag: 'dev-10' });
      await waitFor('the dev-10 event', () => worked(image.digest, 'dev-10'));
      const sent = await generic({ id: 'lie-v1b', repository: 'dev/web', tag: 'v1b', digest: image.digest });
      assert.equal(sent.status, 200);
      const ignored = await waitFor('the v1b event', () => worked(image.digest, 'v1b'));
      assert.equal(ignored.state, 'IGNORED');
      assert.match(ignored.outcome ?? '', /dev\/web:v1b does not exist in the registry/);
      const artifact = (await root('GET', `${P}/applications/web/artifacts/${image.digest}`)).body;
      assert.deepEqual(artifact.tags, ['dev-10']);
      assert.deepEqual(
        artifact.environments.map((e: { environment: string; tag: string }) => [e.environment, e.tag]),
        [['dev', 'dev-10']],
      );
      assert.equal(await inEnv('staging', 'v1b'), undefined);
      assert.equal((await root('GET', `${P}/history?digest=${image.digest}`)).body.items.length, 0);
    });

    test('a signed event whose tag names another digest in the registry by now is ignored and promotes nothing', async () => {
      const mine = build();
      const theirs = build();
      await pushImage(reg.url, 'dev/web', mine, { tag: 'dev-11' });
      await waitFor('the dev-11 event', () => worked(mine.digest, 'dev-11'));
      await pushImage(reg.url, 'dev/web', theirs, { tag: 'v2' });
      await waitFor('staging/web:v2', () => inEnv('staging', 'v2'));
      // v2 is `theirs`; an event says it is `mine` (sent late, or forged with a stolen secret).
      await generic({ id: 'lie-v2', repository: 'dev/web', tag: 'v2', digest: mine.digest });
      const ignored = await waitFor('the lying v2 event', () => worked(mine.digest, 'v2'));
      assert.equal(ignored.state, 'IGNORED');
      assert.match(ignored.outcome ?? '', new RegExp(`dev/web:v2 is ${theirs.digest} in the registry`));
      assert.deepEqual((await root('GET', `${P}/applications/web/artifacts/${mine.digest}`)).body.tags, ['dev-11']);
      assert.equal((await root('GET', `${P}/history?digest=${mine.digest}`)).body.items.length, 0);
      assert.equal(await inEnv('staging', 'v2'), theirs.digest);
    });
  });
}
