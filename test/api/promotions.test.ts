/**
 * Promotion requests on both backends: per-target verdicts (policy allows, denies with reasons, or needs approvals;
 * no edge means no), approvals only from promoters whose role covers the environment, one decision per person,
 * separation of duties with the reason in the 403, rejection, cancellation by the requester.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildArtifact, buildImage, SIGNATURE_ARTIFACT } from '../harness/images.ts';
import { pushImage, pushReferrer } from '../harness/push.ts';

let reg: TestRegistry;
const image = buildImage({ layers: [2000] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '1.0' });
  await pushReferrer(reg.url, 'dev/web', buildArtifact(image, { artifactType: SIGNATURE_ARTIFACT }));
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`promotions API [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const P = '/api/v1/projects/shop';
    before(async () => {
      api = await startApi(backend);
      const tokens: Record<string, string> = {};
      for (const u of ['devon', 'pat', 'pam', 'ci-bot']) tokens[u] = await api.tokenFor(u);
      tokens.root = await api.tokenFor('root', { admin: true });
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'staging/', 'prod/'])
        await as('root', 'PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'staging', 'prod'])
        await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
        ],
      });
      for (const [u, role, envs] of [
        ['devon', 'developer', null],
        ['ci-bot', 'developer', null],
        ['pat', 'promoter', null],
        ['pam', 'promoter', ['prod']],
      ] as const) {
        const m = await as('root', 'POST', `${P}/members`, { username: u, role, environments: envs });
        assert.equal(m.status, 201, JSON.stringify(m.body));
      }
      await as('root', 'POST', '/api/v1/policies', {
        name: 'staging-gate',
        passConditions: ['signature.present'],
        failConditions: ['image.tag == "latest"'],
        approverCount: 1,
      });
      await as('root', 'POST', '/api/v1/policies/staging-gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
      await as('ci-bot', 'POST', `${P}/applications/web/artifacts`, {
        reference: `${reg.host}/dev/web:1.0`,
        builder: 'ci-bot',
      });
    });
    after(() => api?.close());

    test('each target gets its own answer: approvals needed, or no edge in the pipeline', async () => {
      const r = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        tag: '1.0',
        from: 'dev',
        to: ['staging', 'prod'],
        comment: 'release 1.0',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const [staging, prod] = r.body.targets;
      assert.deepEqual(
        [staging.environment, staging.state, staging.policy, staging.approvalsNeeded],
        ['staging', 'AWAITING_APPROVAL', { name: 'staging-gate', version: 1 }, 1],
      );
      assert.deepEqual(
        staging.verdict.conditions.map((c: { expression: string; result: boolean }) => [c.expression, c.result]),
        [
          ['signature.present', true],
          ['image.tag == "latest"', false],
        ],
      );
      assert.deepEqual([prod.state, prod.reasons], ['REJECTED', ['the pipeline has no edge dev → prod']]);
    });

    test('separation of duties: the requester and the builder may not approve; a promoter limited to prod may not decide on staging', async () => {
      const id = (await as('devon', 'GET', `${P}/promotions?state=AWAITING_APPROVAL`)).body.items[0].id;
      await as('root', 'POST', `${P}/members`, { username: 'devon', role: 'promoter' });
      await as('root', 'POST', `${P}/members`, { username: 'ci-bot', role: 'promoter' });
      const requester = await as('devon', 'POST', `${P}/promotions/${id}/approve`, {});
      assert.equal(requester.status, 403);
      assert.match(requester.body.error.message, /you requested this promotion.*allowRequestFromApprove/);
      const builder = await as('ci-bot', 'POST', `${P}/promotions/${id}/approve`, {});
      assert.match(builder.body.error.message, /you built this image.*allowImageBuilderFromApprove/);
      const limited = await as('pam', 'POST', `${P}/promotions/${id}/approve`, {});
      assert.equal(limited.status, 403);
      assert.match(limited.body.error.message, /promoter role for staging/);
      const ok = await as('pat', 'POST', `${P}/promotions/${id}/approve`, { comment: 'looks good' });
      assert.equal(ok.status, 200);
      assert.deepEqual(
        [ok.body.targets[0].state, ok.body.targets[0].approvals.map((a: { username: string }) => a.username)],
        ['QUEUED', ['pat']],
      );
      assert.equal(
        (await as('pat', 'POST', `${P}/promotions/${id}/approve`, {})).status,
        409,
        'nothing left to decide',
      );

      // Deploy gate: promoted there, and an approver may not deploy what they approved (allowApproverFromDeploy is off).
      const gate = (who: string, env: string, deployer: string) =>
        as(who, 'GET', `${P}/environments/${env}/deployable?digest=${image.digest}&deployer=${deployer}`);
      assert.deepEqual((await gate('devon', 'staging', 'devon')).body.allowed, false, 'not promoted yet');
      assert.equal(await api.services.runner.runOne(), true);
      const ok2 = (await gate('devon', 'staging', 'devon')).body;

      // The request page's timeline, per target, from the audit record and the decisions: only that target's steps
      // (the approvals refused above left none), the approval's comment, the copy with the bytes it streamed.
      const seen = (await as('devon', 'GET', `${P}/promotions/${id}`)).body;
      assert.equal(seen.tag, '1.0', 'the tag the request named');
      const [staging, prod] = seen.targets as Array<{
        bytesCopied: number | null;
        timeline: Array<{ step: string; by: string; state: string | null; detail: string; bytesCopied?: number }>;
      }>;
      assert.deepEqual(
        staging!.timeline.map((s) => [s.step, s.by, s.state]),
        [
          ['requested', 'devon', 'AWAITING_APPROVAL'],
          ['approved', 'pat', null],
          ['promoting', 'hoist', 'PROMOTING'],
          ['promoted', 'hoist', 'PROMOTED'],
        ],
      );
      assert.equal(staging!.timeline[1]!.detail, 'looks good');
      assert.equal(typeof staging!.bytesCopied, 'number');
      assert.equal(staging!.timeline[3]!.bytesCopied, staging!.bytesCopied);
      assert.match(staging!.timeline[3]!.detail, /tag 1\.0 written/);
      assert.deepEqual(
        prod!.timeline.map((s) => [s.step, s.state]),
        [['requested', 'REJECTED']],
      );
      assert.equal(prod!.bytesCopied, null, 'never copied');
      const listed = (await as('devon', 'GET', `${P}/promotions?limit=5`)).body.items.find(
        (p: { id: string }) => p.id === id,
      );
      assert.equal(listed.targets[0].timeline, undefined, 'lists stay one query per kind, without timelines');
      assert.deepEqual([ok2.allowed, ok2.promotion], [true, id]);
      const approver = (await gate('devon', 'staging', 'pat')).body;
      assert.equal(approver.allowed, false);
      assert.match(approver.reason, /pat approved this promotion.*allowApproverFromDeploy/);
      assert.match((await gate('devon', 'prod', 'devon')).body.reason, /never promoted to prod/);
    });

    test('the policy can allow the requester; a rejection ends the target; the requester cancels', async () => {
      await as('root', 'PUT', '/api/v1/policies/staging-gate', { allowRequestFromApprove: true, approverCount: 2 });
      const r = (
        await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: image.digest,
          from: 'dev',
          to: ['staging'],
        })
      ).body;
      assert.deepEqual([r.targets[0].policy, r.targets[0].approvalsNeeded], [{ name: 'staging-gate', version: 2 }, 2]);
      const first = await as('devon', 'POST', `${P}/promotions/${r.id}/approve`, {});
      assert.equal(first.body.targets[0].state, 'AWAITING_APPROVAL', 'one of two approvals');
      assert.equal(
        (await as('devon', 'POST', `${P}/promotions/${r.id}/approve`, {})).status,
        409,
        'one decision per person',
      );
      const rejected = await as('pat', 'POST', `${P}/promotions/${r.id}/reject`, { comment: 'not this week' });
      assert.deepEqual(
        [rejected.body.targets[0].state, rejected.body.targets[0].reasons],
        ['REJECTED', ['rejected by pat: not this week']],
      );

      const again = (
        await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: image.digest,
          from: 'dev',
          to: ['staging'],
        })
      ).body;
      assert.equal(
        (await as('pat', 'POST', `${P}/promotions/${again.id}/cancel`)).status,
        403,
        'only the requester cancels',
      );
      assert.equal((await as('devon', 'POST', `${P}/promotions/${again.id}/cancel`)).body.targets[0].state, 'CANCELED');
    });

    test('editing the policy re-evaluates pending targets: more approvals keep it waiting, fewer make it STALE (never promoted), a new failing condition makes it STALE', async () => {
      const r1 = (
        await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: image.digest,
          from: 'dev',
          to: ['staging'],
        })
      ).body;
      await as('devon', 'POST', `${P}/promotions/${r1.id}/approve`, {});
      const waiting = (await as('devon', 'GET', `${P}/promotions/${r1.id}`)).body.targets[0];
      assert.equal(waiting.state, 'AWAITING_APPROVAL', '1 of 2');
      assert.deepEqual(
        waiting.blockedBy.map((b: { kind: string; have: number; need: number }) => [b.kind, b.have, b.need]),
        [['approvals', 1, 2]],
      );
      await as('root', 'PUT', '/api/v1/policies/staging-gate', { approverCount: 3 });
      const more = (await as('devon', 'GET', `${P}/promotions/${r1.id}`)).body.targets[0];
      assert.deepEqual([more.state, more.policy.version, more.approvalsNeeded], ['AWAITING_APPROVAL', 3, 3]);
      // Governance fails closed: a weaker policy does not let a waiting request through with fewer approvals.
      const preview = await as('root', 'POST', '/api/v1/policies/staging-gate/preview', { approverCount: 1 });
      assert.equal(preview.status, 200, JSON.stringify(preview.body));
      assert.deepEqual(
        preview.body.targets
          .filter((t: { request: string }) => t.request === r1.id)
          .map((t: { before: string; after: string }) => [t.before, t.after]),
        [['AWAITING_APPROVAL', 'STALE']],
      );
      assert.equal((await as('devon', 'GET', `${P}/promotions/${r1.id}`)).body.targets[0].state, 'AWAITING_APPROVAL');
      await as('root', 'PUT', '/api/v1/policies/staging-gate', { approverCount: 1 });
      const stale1 = (await as('devon', 'GET', `${P}/promotions/${r1.id}`)).body.targets[0];
      assert.deepEqual([stale1.state, stale1.policy.version, stale1.approvalsNeeded], ['STALE', 3, 3]);
      assert.match(stale1.reasons.join('; '), /now needs 1 approval\(s\) where this was requested under 3/);
      const r2 = (
        await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: image.digest,
          from: 'dev',
          to: ['staging'],
        })
      ).body;
      await as('root', 'PUT', '/api/v1/policies/staging-gate', { failConditions: ['signature.present'] });
      const stale = (await as('devon', 'GET', `${P}/promotions/${r2.id}`)).body.targets[0];
      assert.equal(stale.state, 'STALE');
      assert.match(stale.reasons.join('; '), /policy staging-gate changed: fail condition `signature.present` is true/);
    });

    test('a failing policy rejects with the reason; an image not in the source environment is refused', async () => {
      await as('root', 'PUT', '/api/v1/policies/staging-gate', { failConditions: ['signature.present'] });
      const denied = (
        await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: image.digest,
          from: 'dev',
          to: ['staging'],
        })
      ).body;
      assert.deepEqual(
        [denied.targets[0].state, denied.targets[0].reasons],
        ['REJECTED', ['fail condition `signature.present` is true']],
      );
      const notThere = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        digest: image.digest,
        from: 'prod',
        to: ['staging'],
      });
      assert.deepEqual([notThere.status, notThere.body.error.details], [400, { field: 'from' }]);
      const badDigest = await as('devon', 'POST', `${P}/applications/web/promotions`, {
        digest: 'sha256:ABC',
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(badDigest.status, 400);
      assert.match(badDigest.body.error.message, /body\.digest/);
      assert.equal((await as('root', 'POST', '/api/v1/audit/verify')).body.ok, true);
    });

    test('skipping stages needs a policy that allows it on the target', async () => {
      await as('root', 'POST', '/api/v1/policies', { name: 'prod-hotfix', approverCount: 1 });
      await as('root', 'POST', '/api/v1/policies/prod-hotfix/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
      });
      const refused = (
        await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: image.digest,
          from: 'dev',
          to: ['prod'],
        })
      ).body.targets[0];
      assert.deepEqual(
        [refused.state, refused.reasons],
        ['REJECTED', ['the pipeline has no edge dev → prod and policy prod-hotfix does not allow skipping stages']],
      );
      await as('root', 'PUT', '/api/v1/policies/prod-hotfix', { allowSkipStages: true });
      const allowed = (
        await as('devon', 'POST', `${P}/applications/web/promotions`, {
          digest: image.digest,
          from: 'dev',
          to: ['prod'],
        })
      ).body.targets[0];
      assert.deepEqual([allowed.state, allowed.policy], ['AWAITING_APPROVAL', { name: 'prod-hotfix', version: 2 }]);
    });
  });
}

void describe('promotion execution [pglite]', () => {
  let api: TestApi;
  let call: Call;
  const P = '/api/v1/projects/shop';
  const other = buildImage({ layers: [3000] });
  before(async () => {
    api = await startApi('pglite');
    call = caller(api.app, await api.tokenFor('root', { admin: true }));
    await pushImage(reg.url, 'dev/web', other, { tag: '2.0' });
    await call('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
    await call('POST', '/api/v1/projects', { name: 'shop' });
    for (const prefix of ['dev/', 'exec/'])
      await call('PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix });
    await call('POST', `${P}/applications`, { name: 'web' });
    await call('PUT', `${P}/environments/dev`, { kind: 'repository', registry: 'local', repository: 'dev/{app}' });
    await call('PUT', `${P}/environments/staging`, { kind: 'repository', registry: 'local', repository: 'exec/{app}' });
    await call('PUT', `${P}/environments/prod`, {
      kind: 'tag',
      registry: 'local',
      repository: 'exec/{app}',
      tag: '{tag}-prod',
      allowTagMove: false,
    });
    await call('PUT', `${P}/pipeline`, {
      edges: [
        { from: 'dev', to: 'staging' },
        { from: 'staging', to: 'prod' },
      ],
    });
    await call('POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:1.0` });
    await call('POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:2.0` });
  });
  after(() => api?.close());

  const head = async (repo: string, tag: string) => {
    const r = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    return r.status === 200 ? r.headers.get('docker-content-digest') : undefined;
  };

  test('a queued target is copied (blobs mounted inside one registry), tagged, and the artifact is then in the target', async () => {
    const r = (
      await call('POST', `${P}/applications/web/promotions`, { digest: image.digest, from: 'dev', to: ['staging'] })
    ).body;
    assert.equal(r.targets[0].state, 'QUEUED');
    // Asked for the next hop before this one is carried out: the answer says what to wait for, not "push it there".
    const early = await call('POST', `${P}/applications/web/promotions`, { tag: '1.0', from: 'staging', to: ['prod'] });
    assert.equal(early.status, 404);
    assert.match(
      early.body.error.message,
      new RegExp(`a promotion of it into staging is QUEUED \\(request ${r.id}\\)`),
    );
    assert.equal(await api.services.runner.runOne(), true);
    assert.equal(await api.services.runner.runOne(), false, 'nothing left, and nothing taken twice');
    const done = (await call('GET', `${P}/promotions/${r.id}`)).body;
    assert.equal(done.targets[0].state, 'PROMOTED');
    assert.equal(await head('exec/web', '1.0'), image.digest);
    const artifact = (await call('GET', `${P}/applications/web/artifacts/${image.digest}`)).body;
    assert.deepEqual(
      artifact.environments.map((e: { environment: string; tag: string }) => [e.environment, e.tag]),
      [
        ['dev', '1.0'],
        ['staging', '1.0'],
      ],
    );
    const audit = (
      await call('GET', `/api/v1/audit?objectType=promotion&objectId=${r.id}&order=oldest`)
    ).body.items.map((e: { action: string; summary: { blobsMounted?: number } }) => [e.action, e.summary.blobsMounted]);
    // The image's config and layer, and its signature's config and layer: referrers travel with the image.
    assert.deepEqual(audit, [
      ['promotion.request', undefined],
      ['promotion.promoted', 4],
    ]);
  });

  test('a tag convention stage gets its tag; a tag that may not move fails the target with the reason', async () => {
    const r = (
      await call('POST', `${P}/applications/web/promotions`, { digest: image.digest, from: 'staging', to: ['prod'] })
    ).body;
    await api.services.runner.runOne();
    assert.equal((await call('GET', `${P}/promotions/${r.id}`)).body.targets[0].state, 'PROMOTED');
    assert.equal(await head('exec/web', '1.0-prod'), image.digest);
    // 2.0-prod already names the first image; promoting another digest tagged 2.0 may not move it.
    await pushImage(reg.url, 'exec/web', image, { tag: '2.0-prod' });
    await call('POST', `${P}/applications/web/promotions`, { digest: other.digest, from: 'dev', to: ['staging'] });
    await api.services.runner.runOne();
    const again = (
      await call('POST', `${P}/applications/web/promotions`, { digest: other.digest, from: 'staging', to: ['prod'] })
    ).body;
    await api.services.runner.runOne();
    const failed = (await call('GET', `${P}/promotions/${again.id}`)).body.targets[0];
    assert.equal(failed.state, 'FAILED');
    assert.match(failed.reasons.join(' '), /tag 2\.0-prod in prod already names sha256:.*does not allow moving a tag/);
    assert.equal(await head('exec/web', '2.0-prod'), image.digest, 'the tag did not move');

    const history = (await call('GET', `${P}/history?app=web`)).body.items as Array<{
      to: string;
      state: string;
      tag: string | null;
      digest: string;
      reason: string | null;
      requestedBy: string;
    }>;
    assert.deepEqual(history.map((h) => [h.to, h.state, h.tag]).slice(0, 4), [
      ['prod', 'FAILED', '2.0-prod'],
      ['staging', 'PROMOTED', '2.0'],
      ['prod', 'PROMOTED', '1.0-prod'],
      ['staging', 'PROMOTED', '1.0'],
    ]);
    assert.deepEqual(
      (await call('GET', `${P}/history?env=prod&digest=${image.digest}`)).body.items.map(
        (h: { state: string }) => h.state,
      ),
      ['PROMOTED'],
    );
  });

  test('a digest quarantined while its target is on its way to the runner is rejected there, not copied', async () => {
    const r = (
      await call('POST', `${P}/applications/web/promotions`, { digest: other.digest, from: 'dev', to: ['staging'] })
    ).body;
    assert.equal(r.targets[0].state, 'QUEUED');
    // Quarantining rejects the QUEUED targets itself; one claimed meanwhile (PROMOTING) is the runner's to refuse.
    // The row is written directly, as that race would leave it; the runner reads it with its job, in one statement.
    await api.database.db
      .insertInto('quarantine')
      .values({ digest: other.digest, reason: 'CVE-2026-9', by_user: 'root', at: new Date() })
      .execute();
    assert.equal(await api.services.runner.runOne(), true);
    const done = (await call('GET', `${P}/promotions/${r.id}`)).body;
    assert.equal(done.targets[0].state, 'REJECTED');
    assert.match(done.targets[0].reasons.join('; '), /quarantined by root: CVE-2026-9/);
    const audit = (await call('GET', `/api/v1/audit?objectType=promotion&objectId=${r.id}&order=oldest`)).body.items;
    assert.deepEqual(
      audit.map((e: { action: string; actor: string }) => [e.action, e.actor]),
      [
        ['promotion.request', 'root'],
        ['promotion.refused', 'hoist'],
      ],
      'not promoted; the refusal at run time is in the record',
    );
    assert.deepEqual(
      done.targets[0].timeline.map((s: { step: string; detail: string }) => [s.step, s.detail]),
      [
        ['requested', ''],
        ['refused', 'quarantined by root: CVE-2026-9'],
      ],
    );
    await api.database.db.deleteFrom('quarantine').where('digest', '=', other.digest).execute();
  });

  test('the runner opens its registries from the rows read with the job: a changed registry gets a new client', async () => {
    const registries = api.services.registries;
    const first = await registries.open('local');
    assert.equal(await registries.open('local'), first, 'unchanged: the same client (its tokens, its connections)');
    // Saved again (on any replica): the row's updated_at changes, and so does the client.
    await call('PUT', '/api/v1/registries/local', { url: `http://${reg.host}` });
    const second = await registries.open('local');
    assert.notEqual(second, first);
    const r = (
      await call('POST', `${P}/applications/web/promotions`, { digest: image.digest, from: 'dev', to: ['staging'] })
    ).body;
    assert.equal(await api.services.runner.runOne(), true);
    assert.equal((await call('GET', `${P}/promotions/${r.id}`)).body.targets[0].state, 'PROMOTED');
    assert.equal(await registries.open('local'), second, "the runner's openRow kept the current client");
  });

  test('a target left PROMOTING by a dead server is claimed again once its lease runs out', async () => {
    const r = (
      await call('POST', `${P}/applications/web/promotions`, { digest: image.digest, from: 'dev', to: ['staging'] })
    ).body;
    const claimed = await api.services.runner.claim();
    assert.ok(claimed, 'claimed, then the "server" dies without finishing');
    assert.equal(await api.services.runner.claim(), undefined, 'a live lease keeps others away');
    const later = new Date(Date.now() + 10 * 60_000);
    assert.equal(await api.services.runner.claim(later), claimed, 'after the lease, another worker takes it');
    assert.equal((await call('GET', `${P}/promotions/${r.id}`)).body.targets[0].state, 'PROMOTING');
  });
});
