/**
 * Automation end to end on both backends, with a real distribution registry whose `notifications` point at hoist:
 * a push to dev fires the rule and the image appears in staging; a later referrer (a scan report) re-runs the rules;
 * duplicate, pull and malformed events and bad secrets; track-latest with soak time, pin, windows, quarantine; and
 * the poller finding a new and a moved tag in a registry that sends no events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildArtifact, buildImage, buildMultiPlatform, type TestManifest } from '../harness/images.ts';
import { getManifestRaw, pushImage, pushReferrer } from '../harness/push.ts';
import { TRIVY, trivyReport } from '../harness/reports.ts';
import { ECHO_OUTCOME } from '../../src/events/echo-log.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SECRET = 'distribution-hook-secret-0123456789';

for (const backend of BACKENDS) {
  void describe(`automation [${backend}]`, () => {
    let api: TestApi;
    let reg: TestRegistry;
    let quiet: TestRegistry;
    let base: string;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    // The clock automation and promotions see: tests move it past a soak time instead of sleeping through it.
    let skewMs = 0;
    const clock = (): Date => new Date(Date.now() + skewMs);
    const P = '/api/v1/projects/shop';
    const inEnv = async (env: string, tag: string): Promise<string | undefined> => {
      const m = await getManifestRaw(reg.url, `${env}/web`, tag);
      return m.status === 200 ? m.digest : undefined;
    };
    const hook = (kind: string, body: unknown, auth = `Bearer ${SECRET}`, type = 'application/json') =>
      fetch(`${base}/api/v1/hooks/${kind}`, {
        method: 'POST',
        headers: { 'content-type': type, ...(auth !== '' ? { authorization: auth } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const push = async (tag: string, labels: Record<string, string> = {}): Promise<TestManifest> => {
      const image = buildImage({ layers: [800], labels });
      await pushImage(reg.url, 'dev/web', image, { tag });
      return image;
    };

    before(async () => {
      api = await startApi(backend, { clock });
      base = await api.app.listen({ port: 0, host: '127.0.0.1' });
      reg = await startRegistry({
        notificationsUrl: `${base}/api/v1/hooks/distribution`,
        notificationHeaders: { Authorization: `Bearer ${SECRET}` },
      });
      quiet = await startRegistry();
      const root = await api.tokenFor('root', { admin: true });
      const pat = await api.tokenFor('pat');
      as = (who, ...rest) => caller(api.app, who === 'pat' ? pat : root)(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/registries', { name: 'quiet', url: `http://${quiet.host}`, pollBudget: 50 });
      assert.equal(
        (await as('root', 'PUT', '/api/v1/registries/local/hooks/distribution', { secret: SECRET })).status,
        200,
      );
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      for (const prefix of ['dev/', 'staging/', 'prod/'])
        await as('root', 'PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix });
      for (const prefix of ['edge/'])
        await as('root', 'PUT', '/api/v1/projects/shop/namespaces', { registry: 'quiet', prefix });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'staging', 'prod'])
        await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
        });
      await as('root', 'PUT', `${P}/environments/edge`, {
        kind: 'repository',
        registry: 'quiet',
        repository: 'edge/{app}',
      });
      await as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
        ],
      });
      await as('root', 'POST', `${P}/members`, { username: 'pat', role: 'promoter' });
      const rule = await as('root', 'POST', `${P}/rules`, {
        name: 'releases',
        from: 'dev',
        to: 'staging',
        criteria: [{ field: 'tag', op: 'startsWith', value: 'v' }],
        tagTemplate: '%n-rc',
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      assert.equal(rule.body.expression, '(image.tag.startsWith("v"))');
      const scanned = await as('root', 'POST', `${P}/rules`, {
        name: 'scanned',
        from: 'dev',
        to: 'staging',
        criteria: [
          { field: 'tag', op: 'startsWith', value: 'scan-' },
          { field: 'vulnerabilities', severity: 'critical', op: '<=', value: 0 },
        ],
      });
      assert.equal(scanned.status, 201, JSON.stringify(scanned.body));
      await api.services.intake.start();
      await api.services.runner.start();
    });
    after(async () => {
      await api?.services.intake.stop();
      await api?.services.runner.stop();
      await api?.close();
      await Promise.all([reg?.stop(), quiet?.stop()]);
    });

    test('a rule refuses a tag template that cannot give a valid tag, when it is saved', async () => {
      const bad = await as('root', 'POST', `${P}/rules`, {
        name: 'bad',
        from: 'dev',
        to: 'staging',
        tagTemplate: 'release/%n',
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /tagTemplate/);
      const badOp = await as('root', 'POST', `${P}/rules`, {
        name: 'bad',
        from: 'dev',
        to: 'staging',
        criteria: [{ field: 'tag', op: 'like', value: 'v' }],
      });
      assert.match(badOp.body.error.message, /criteria\[0\]\.op/);
    });

    test('a push to dev is an artifact at once and the rule promotes it to staging with its tag template', async () => {
      const image = await push('v1.0');
      const digest = await waitFor('staging/web:v1.0-rc', () => inEnv('staging', 'v1.0-rc'));
      assert.equal(digest, image.digest);
      // The tag is written before the promotion is recorded: wait for the record.
      const history = await waitFor('the history entry', async () => {
        const items = (await as('root', 'GET', `${P}/history?digest=${image.digest}`)).body.items;
        return items.length > 0 ? items : undefined;
      });
      assert.deepEqual(
        history.map((h: { from: string; to: string; requestedBy: string }) => [h.from, h.to, h.requestedBy]),
        [['dev', 'staging', 'rule:releases']],
      );
      const events = (await as('root', 'GET', '/api/v1/events')).body.items.filter(
        (e: { digest: string; repository: string }) => e.digest === image.digest && e.repository === 'dev/web',
      );
      assert.ok(
        events.length >= 1 && events.every((e: { state: string }) => e.state === 'DONE'),
        JSON.stringify(events),
      );
    });

    test('a multi-platform push is one artifact: its platform manifests, pushed by digest, register nothing, in dev nor in staging', async () => {
      const index = buildMultiPlatform(2, [600]);
      const children = index.children!.map((c) => c.digest);
      await pushImage(reg.url, 'dev/web', index, { tag: 'v3.0' });
      assert.equal(await waitFor('staging/web:v3.0-rc', () => inEnv('staging', 'v3.0-rc')), index.digest);
      // Every event about the platform manifests (dev's push, and the copy's into staging) is settled, as IGNORED.
      const childEvents = await waitFor("the platform manifests' events", async () => {
        const items = (await as('root', 'GET', '/api/v1/events?limit=200')).body.items.filter((e: { digest: string }) =>
          children.includes(e.digest),
        );
        return items.length >= 2 &&
          items.every((e: { state: string }) => e.state !== 'PENDING' && e.state !== 'WORKING')
          ? items
          : undefined;
      });
      for (const e of childEvents as Array<{ state: string; outcome: string }>) {
        assert.equal(e.state, 'IGNORED', JSON.stringify(e));
        assert.match(e.outcome, /pushed by digest only/);
      }
      for (const child of children)
        assert.equal((await as('root', 'GET', `${P}/applications/web/artifacts/${child}`)).status, 404);
      // The tag is written before the promotion is recorded: wait for the record.
      const environments = await waitFor('the index located in staging', async () => {
        const artifact = await as('root', 'GET', `${P}/applications/web/artifacts/${index.digest}`);
        const names = artifact.body.environments.map((e: { environment: string }) => e.environment).sort();
        return names.includes('staging') ? names : undefined;
      });
      assert.deepEqual(environments, ['dev', 'staging']);
    });

    test('a tag the rule does not match is recorded but not promoted', async () => {
      const image = await push('nightly');
      await waitFor('the event', async () =>
        (await as('root', 'GET', '/api/v1/events')).body.items.some(
          (e: { digest: string; state: string }) => e.digest === image.digest && e.state === 'DONE',
        ),
      );
      const artifact = await as('root', 'GET', `${P}/applications/web/artifacts/${image.digest}`);
      assert.deepEqual(
        artifact.body.environments.map((e: { environment: string }) => e.environment),
        ['dev'],
      );
      assert.equal((await as('root', 'GET', `${P}/history?digest=${image.digest}`)).body.items.length, 0);
    });

    test('a scan report pushed after the image re-runs the rules: no report, no promotion; a clean report, promoted', async () => {
      const image = await push('scan-1');
      await waitFor('the event', async () =>
        (await as('root', 'GET', '/api/v1/events')).body.items.some(
          (e: { digest: string; state: string }) => e.digest === image.digest && e.state === 'DONE',
        ),
      );
      assert.equal(
        await inEnv('staging', 'scan-1'),
        undefined,
        'no report: a missing report is not zero vulnerabilities',
      );
      await pushReferrer(reg.url, 'dev/web', buildArtifact(image, { artifactType: TRIVY, content: trivyReport(0) }));
      assert.equal(await waitFor('staging/web:scan-1', () => inEnv('staging', 'scan-1')), image.digest);
      const artifact = await as('root', 'GET', `${P}/applications/web/artifacts/${image.digest}`);
      assert.deepEqual([artifact.body.scan.critical, artifact.body.scan.high], [0, 0]);

      const dirty = await push('scan-2');
      await pushReferrer(reg.url, 'dev/web', buildArtifact(dirty, { artifactType: TRIVY, content: trivyReport(2) }));
      await waitFor(
        'the report',
        async () =>
          (await as('root', 'GET', `${P}/applications/web/artifacts/${dirty.digest}`)).body.scan?.critical === 2,
      );
      assert.equal(await inEnv('staging', 'scan-2'), undefined, 'two critical vulnerabilities: not promoted');
    });

    test('duplicate events are recorded once and promote once; pull events are ignored; bad secrets and bodies are refused', async () => {
      const image = await push('v2.0');
      await waitFor('staging/web:v2.0-rc', () => inEnv('staging', 'v2.0-rc'));
      const event = {
        id: 'dup-event-1',
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: image.digest,
          size: image.size,
          repository: 'dev/web',
          tag: 'v2.0',
        },
      };
      const first = await hook(
        'distribution',
        { events: [event, event, { ...event, id: 'pull-1', action: 'pull' }] },
        `Bearer ${SECRET}`,
        'application/vnd.docker.distribution.events.v1+json',
      );
      assert.equal(first.status, 200);
      assert.deepEqual(await first.json(), { received: 2, accepted: 1, duplicates: 1 });
      const again = await hook('distribution', { events: [event] });
      assert.deepEqual(await again.json(), { received: 1, accepted: 0, duplicates: 1 });
      await waitFor('the duplicate to be worked', async () =>
        (await as('root', 'GET', '/api/v1/events')).body.items.some(
          (e: { id: string; state: string }) => e.id.endsWith(':dup-event-1') && e.state === 'DONE',
        ),
      );
      // The tag is written before the promotion is recorded (the attestation follows by its own job): wait for the record.
      await waitFor('the history entry', async () =>
        (await as('root', 'GET', `${P}/history?digest=${image.digest}`)).body.items.length > 0 ? true : undefined,
      );
      assert.equal(
        (await as('root', 'GET', `${P}/history?digest=${image.digest}`)).body.items.length,
        1,
        'promoted once',
      );

      const wrong = await hook(
        'distribution',
        { events: [{ ...event, id: 'sneaky' }] },
        'Bearer not-the-secret-at-all',
      );
      assert.equal(wrong.status, 401);
      assert.equal((await hook('distribution', { events: [] }, '')).status, 401);
      const malformed = await hook('distribution', {
        events: [{ ...event, id: 'bad-1', target: { ...event.target, digest: 'sha256:xyz' } }],
      });
      assert.equal(malformed.status, 400);
      assert.match(
        ((await malformed.json()) as { error: { message: string } }).error.message,
        /events\[0\]\.target\.digest/,
      );
      const notJson = await hook(
        'distribution',
        '{"events": [',
        `Bearer ${SECRET}`,
        'application/vnd.docker.distribution.events.v1+json',
      );
      assert.equal(notJson.status, 400);
      const recorded = (await as('root', 'GET', '/api/v1/events?limit=1000')).body.items.map((e: { id: string }) =>
        e.id.split(':').at(-1),
      );
      assert.ok(!recorded.includes('sneaky') && !recorded.includes('bad-1'), 'nothing recorded');
    });

    test('track-latest follows the newest soaked build; a pin holds the environment and is itself a promotion', async () => {
      await as('root', 'PUT', `${P}/environments/staging`, {
        kind: 'repository',
        registry: 'local',
        repository: 'staging/{app}',
        soakSeconds: 2,
      });
      const older = await push('v3.0');
      await waitFor('staging/web:v3.0-rc', () => inEnv('staging', 'v3.0-rc'));
      const set = await as('root', 'PUT', `${P}/applications/web/bindings/prod`, { mode: 'track-latest' });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const newer = await push('v3.1');
      await waitFor('staging/web:v3.1-rc', () => inEnv('staging', 'v3.1-rc'));
      assert.equal(await inEnv('prod', 'v3.1-rc'), undefined, 'not soaked yet');
      // The older build soaked first; the newer one does not reset its clock, but once both have soaked the newest wins.
      skewMs += 2100; // past the 2 s soak time
      await api.services.automation.tick();
      assert.equal(await waitFor('prod/web:v3.1-rc', () => inEnv('prod', 'v3.1-rc')), newer.digest);
      // The tag is written before the promotion is recorded: wait for prod to hold the newer build.
      await waitFor('prod to hold v3.1', async () => {
        const items = (await as('root', 'GET', `${P}/history?digest=${newer.digest}&env=prod`)).body.items;
        return items.some((h: { state: string }) => h.state === 'PROMOTED') ? true : undefined;
      });

      const badPin = await as('pat', 'PUT', `${P}/applications/web/bindings/prod`, {
        mode: 'pin',
        digest: 'sha256:ABC',
      });
      assert.equal(badPin.status, 400);
      assert.match(badPin.body.error.message, /sha256: followed by 64 lower-case hex digits/);
      const pin = await as('pat', 'PUT', `${P}/applications/web/bindings/prod`, {
        mode: 'pin',
        digest: older.digest,
        comment: 'roll back',
      });
      assert.equal(pin.status, 200, JSON.stringify(pin.body));
      assert.deepEqual(
        [pin.body.binding.mode, pin.body.binding.pinnedDigest, pin.body.promotion.requestedBy],
        ['pin', older.digest, 'pat'],
      );
      await waitFor('prod/web:v3.0-rc', async () => (await inEnv('prod', 'v3.0-rc')) === older.digest);
      const pushedLater = await push('v3.2');
      await waitFor('staging/web:v3.2-rc', () => inEnv('staging', 'v3.2-rc'));
      skewMs += 2100; // past the 2 s soak time
      await api.services.automation.tick();
      assert.equal(await inEnv('prod', 'v3.2-rc'), undefined, 'a pinned environment is not moved by automation');
      const bindings = (await as('root', 'GET', `${P}/bindings`)).body.items;
      assert.deepEqual(
        bindings.map((b: { environment: string; mode: string; current: string }) => [b.environment, b.mode, b.current]),
        [['prod', 'pin', older.digest]],
      );
      const audit = await as('root', 'GET', `/api/v1/audit?objectType=binding&objectId=shop/web/prod&order=oldest`);
      assert.equal(audit.status, 200, JSON.stringify(audit.body));
      assert.deepEqual(
        audit.body.items.map((e: { action: string; actor: string }) => [e.action, e.actor]),
        [
          ['binding.set', 'root'],
          ['binding.set', 'pat'],
        ],
        'the track-latest binding and the pin are audited; the refused pin is not',
      );
      void pushedLater;
    });

    test('windows: a manual promotion outside them is refused unless an admin overrides', async () => {
      const today = new Date().getUTCDay();
      const other = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][(today + 3) % 7];
      const w = await as('root', 'PUT', `${P}/environments/staging/windows`, {
        windows: [{ days: [other], start: '10:00', end: '11:00', timeZone: 'UTC' }],
      });
      assert.equal(w.status, 200, JSON.stringify(w.body));
      const image = await push('manual-1');
      await waitFor(
        'the artifact',
        async () => (await as('root', 'GET', `${P}/applications/web/artifacts/${image.digest}`)).status === 200,
      );
      const refused = await as('pat', 'POST', `${P}/applications/web/promotions`, {
        digest: image.digest,
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(refused.status, 409);
      assert.match(refused.body.error.message, /outside its promotion windows/);
      assert.equal(
        (
          await as('pat', 'POST', `${P}/applications/web/promotions`, {
            digest: image.digest,
            from: 'dev',
            to: ['staging'],
            overrideWindow: true,
          })
        ).status,
        403,
      );
      const overridden = await as('root', 'POST', `${P}/applications/web/promotions`, {
        digest: image.digest,
        from: 'dev',
        to: ['staging'],
        overrideWindow: true,
      });
      assert.equal(overridden.status, 201, JSON.stringify(overridden.body));
      await waitFor('staging/web:manual-1', () => inEnv('staging', 'manual-1'));

      // Automation is not refused: its promotion waits in QUEUED, with the reason, until the window opens.
      const auto = await push('v5.0');
      const waiting = await waitFor('the queued rule promotion', async () => {
        const items = (await as('root', 'GET', `${P}/promotions?state=QUEUED&environment=staging`)).body
          .items as Array<{ digest: string; targets: Array<{ reasons: string[] }> }>;
        const mine = items.find((p) => p.digest === auto.digest);
        return mine?.targets[0]?.reasons.some((r) => r.includes('waiting for a promotion window')) ? mine : undefined;
      });
      assert.match(waiting.targets[0]?.reasons.join(' ') ?? '', new RegExp(`${other} 10:00-11:00 UTC`));
      assert.equal(await inEnv('staging', 'v5.0-rc'), undefined);
      await as('root', 'PUT', `${P}/environments/staging/windows`, { windows: [] });
    });

    test('quarantine blocks a digest everywhere, and lifting it is audited', async () => {
      const image = await push('bad-1');
      await waitFor(
        'the artifact',
        async () => (await as('root', 'GET', `${P}/applications/web/artifacts/${image.digest}`)).status === 200,
      );
      assert.equal(
        (await as('root', 'POST', '/api/v1/quarantine', { digest: 'sha256:nope', reason: 'x' })).status,
        400,
      );
      const q = await as('root', 'POST', '/api/v1/quarantine', { digest: image.digest, reason: 'CVE-2026-0001' });
      assert.equal(q.status, 201);
      const refused = await as('pat', 'POST', `${P}/applications/web/promotions`, {
        digest: image.digest,
        from: 'dev',
        to: ['staging'],
      });
      assert.equal(refused.status, 409);
      assert.match(refused.body.error.message, /quarantined \(CVE-2026-0001/);
      assert.equal(
        (await as('root', 'GET', `${P}/applications/web/artifacts/${image.digest}`)).body.quarantine.reason,
        'CVE-2026-0001',
      );
      assert.equal((await as('root', 'DELETE', `/api/v1/quarantine/${image.digest}`)).status, 204);
      const audit = (await as('root', 'GET', `/api/v1/audit?objectId=${image.digest}`)).body.items.map(
        (e: { action: string }) => e.action,
      );
      assert.deepEqual(audit.filter((a: string) => a.startsWith('quarantine')).sort(), [
        'quarantine.add',
        'quarantine.lift',
      ]);
    });

    test('the poller finds a new tag and a moved tag within the registry budget, and remembers what it saw', async () => {
      const first = buildImage({ layers: [300] });
      await pushImage(quiet.url, 'edge/web', first, { tag: 'stable' });
      const w = await as('root', 'POST', '/api/v1/watches', { repository: 'quiet/edge/web', intervalSeconds: 3600 });
      assert.equal(w.status, 201, JSON.stringify(w.body));
      const [r1] = await api.services.poller.checkDue(new Date(Date.now() + 1000));
      assert.deepEqual([r1?.added, r1?.moved], [['stable'], []]);
      await waitFor('the artifact in edge', async () =>
        (await as('root', 'GET', `${P}/applications/web/artifacts/${first.digest}`)).body.environments?.some(
          (e: { environment: string }) => e.environment === 'edge',
        ),
      );
      const second = buildImage({ layers: [300] });
      await pushImage(quiet.url, 'edge/web', second, { tag: 'stable' });
      const [r2] = await api.services.poller.checkDue(new Date(Date.now() + 3_700_000));
      assert.deepEqual([r2?.added, r2?.moved], [[], ['stable']]);
      await waitFor(
        'the moved tag as an artifact',
        async () => (await as('root', 'GET', `${P}/applications/web/artifacts/${second.digest}`)).status === 200,
      );
      const [r3] = await api.services.poller.checkDue(new Date(Date.now() + 7_400_000));
      assert.deepEqual([r3?.added, r3?.moved], [[], []], 'nothing new');
      const watches = (await as('root', 'GET', '/api/v1/watches')).body.items;
      assert.equal(watches[0].lastResult.requests, 2);
    });

    test('out-of-order events: a referrer announced before its image is ignored, then read with the image', async () => {
      assert.equal(
        (await as('root', 'PUT', '/api/v1/registries/quiet/hooks/generic', { secret: `${SECRET}-generic` })).status,
        200,
      );
      await as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
          { from: 'edge', to: 'staging' },
        ],
      });
      assert.equal(
        (
          await as('root', 'POST', `${P}/rules`, {
            name: 'edge-scanned',
            from: 'edge',
            to: 'staging',
            criteria: [
              { field: 'tag', op: 'startsWith', value: 'ooo-' },
              { field: 'vulnerabilities', severity: 'critical', op: '=', value: 0 },
            ],
          })
        ).status,
        201,
      );
      const image = buildImage({ layers: [400] });
      await pushImage(quiet.url, 'edge/web', image, { tag: 'ooo-1' });
      const report = buildArtifact(image, { artifactType: TRIVY, content: trivyReport(0) });
      await pushReferrer(quiet.url, 'edge/web', report);
      const generic = (body: unknown) => hook('generic', body, `Bearer ${SECRET}-generic`);
      const first = await generic({ id: 'ooo-referrer', repository: 'edge/web', digest: report.digest });
      assert.deepEqual(await first.json(), { received: 1, accepted: 1, duplicates: 0 });
      const ignored = await waitFor('the referrer event', async () =>
        (await as('root', 'GET', '/api/v1/events')).body.items.find(
          (e: { id: string; state: string }) =>
            e.id.endsWith(':ooo-referrer') && e.state !== 'PENDING' && e.state !== 'WORKING',
        ),
      );
      assert.deepEqual(
        [ignored.state, ignored.outcome],
        ['IGNORED', `a referrer of ${image.digest}, which is no artifact`],
      );
      await generic({ id: 'ooo-image', repository: 'edge/web', tag: 'ooo-1', digest: image.digest });
      assert.equal(
        await waitFor('staging/web:ooo-1', () => inEnv('staging', 'ooo-1')),
        image.digest,
        'the report was read with the image',
      );
      assert.deepEqual(
        await (await generic({ id: 'ooo-referrer', repository: 'edge/web', digest: report.digest })).json(),
        { received: 1, accepted: 0, duplicates: 1 },
      );
      assert.equal(
        (await hook('generic', { repository: 'edge/web', digest: image.digest })).status,
        401,
        "the distribution secret is not the generic hook's",
      );
    });

    test("the promotion's own writes come back recognised at the hook; another environment holding the repository still has them worked", async () => {
      type EventRow = { repository: string; digest: string; tag: string | null; state: string; outcome: string | null };
      const settled = (digest: string, n: number) => async () => {
        const items = ((await as('root', 'GET', '/api/v1/events?limit=1000')).body.items as EventRow[]).filter(
          (e) => e.repository === 'staging/web' && e.digest === digest,
        );
        return items.length >= n && items.every((e) => e.state !== 'PENDING' && e.state !== 'WORKING')
          ? items
          : undefined;
      };
      const own = await push('v7.0');
      assert.equal(await waitFor('staging/web:v7.0-rc', () => inEnv('staging', 'v7.0-rc')), own.digest);
      // The copy's one write of the image's manifest, by its tag (after the fence): nothing new, known without a query.
      const echoes = await waitFor("the copy's events", settled(own.digest, 1));
      assert.equal(echoes.length, 1, JSON.stringify(echoes));
      for (const e of echoes) assert.match(`${e.state} ${e.outcome ?? ''}`, /^IGNORED nothing new/, JSON.stringify(e));
      assert.ok(
        echoes.some((e) => e.outcome === ECHO_OUTCOME),
        JSON.stringify(echoes),
      );

      // Second actor: an environment that holds staging/web too (a template without {app}) needs the events.
      const mirror = await as('root', 'PUT', `${P}/environments/mirror`, {
        kind: 'repository',
        registry: 'local',
        repository: 'staging/web',
      });
      assert.ok(mirror.status === 200 || mirror.status === 201, JSON.stringify(mirror.body));
      // The registry's environments are read once a second at most (src/events/sole-holder.ts).
      await new Promise((r) => setTimeout(r, 1100));
      const seen = await push('v7.1');
      assert.equal(await waitFor('staging/web:v7.1-rc', () => inEnv('staging', 'v7.1-rc')), seen.digest);
      const located = await waitFor('v7.1 located in mirror by its event', async () => {
        const artifact = (await as('root', 'GET', `${P}/applications/web/artifacts/${seen.digest}`)).body;
        const names = (artifact.environments ?? []).map((e: { environment: string }) => e.environment);
        return names.includes('mirror') ? names : undefined;
      });
      assert.ok(located.includes('staging'), JSON.stringify(located));
      const worked = await waitFor("the copy's events", settled(seen.digest, 1));
      assert.ok(
        worked.every((e) => e.outcome !== ECHO_OUTCOME),
        JSON.stringify(worked),
      );
    });
  });
}
