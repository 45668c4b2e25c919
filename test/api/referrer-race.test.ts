/**
 * A scan report (a referrer) pushed right after its image: the two push events are worked at once, by two workers or
 * two replicas. The referrer's event may find its subject not recorded yet — the image's event is still being worked,
 * and may have read the image's referrers before the report existed. Dropping the referrer then loses the report (a
 * missing report is not zero findings, so a rule waiting for it never fires). The referrer's event waits for the
 * subject's open event instead, for a bounded time, and is worked after it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildArtifact, buildImage } from '../harness/images.ts';
import { pushImage, pushReferrer } from '../harness/push.ts';
import { TRIVY, trivyReport } from '../harness/reports.ts';
import { claimJob, PUSH_EVENT_JOBS, settleJob } from '../../src/store/jobs.repository.ts';

let reg: TestRegistry;
before(async () => {
  reg = await startRegistry();
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`a referrer racing its image's event [${backend}]`, () => {
    let api: TestApi;
    let call: Call;
    let registryId: string;
    const P = '/api/v1/projects/shop';
    const event = async (id: string) =>
      api.database.db.selectFrom('push_events').selectAll().where('id', 'like', `%:${id}`).executeTakeFirstOrThrow();

    before(async () => {
      api = await startApi(backend);
      call = caller(api.app, await api.tokenFor('root', { admin: true }));
      await call('POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await call('POST', '/api/v1/projects', { name: 'shop' });
      await call('PUT', `${P}/namespaces`, { registry: 'local', prefix: 'dev/' });
      await call('POST', `${P}/applications`, { name: 'web' });
      await call('PUT', `${P}/environments/dev`, { kind: 'repository', registry: 'local', repository: 'dev/{app}' });
      registryId = (await api.services.registries.row('local')).id;
    });
    after(() => api?.close());

    test("the report's event waits while the image's event is worked, then refreshes the artifact", async () => {
      const image = buildImage({ layers: [400] });
      await pushImage(reg.url, 'dev/web', image, { tag: `race-${backend}` });
      await api.services.intake.receive(registryId, 'distribution', [
        { id: `image-${backend}`, repository: 'dev/web', tag: `race-${backend}`, digest: image.digest },
      ]);
      // Another worker (another replica) has taken the image's event and is still on it.
      const other = await claimJob(api.database.db, PUSH_EVENT_JOBS, new Date(), 60_000);
      assert.ok(other, "the image's event is claimed");
      const report = buildArtifact(image, { artifactType: TRIVY, content: trivyReport(2) });
      await pushReferrer(reg.url, 'dev/web', report);
      await api.services.intake.receive(registryId, 'distribution', [
        { id: `report-${backend}`, repository: 'dev/web', digest: report.digest },
      ]);

      assert.equal(await api.services.intake.processOne(), true);
      const waiting = await event(`report-${backend}`);
      assert.equal(waiting.state, 'PENDING', `not dropped: ${waiting.outcome}`);
      assert.match(waiting.outcome ?? '', /waiting for the event of its subject sha256:/);
      assert.equal(waiting.attempts, 0, 'waiting is no failed attempt');

      // The other worker records the image and finishes its event.
      await call('POST', `${P}/applications/web/artifacts`, { reference: `${reg.host}/dev/web:race-${backend}` });
      await settleJob(api.database.db, PUSH_EVENT_JOBS, other, {
        state: 'DONE',
        outcome: 'recorded',
        done_at: new Date(),
      });
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await api.services.intake.processOne(), true);
      const done = await event(`report-${backend}`);
      assert.deepEqual([done.state, done.outcome], ['DONE', `a referrer of ${image.digest}: 1 artifact(s) refreshed`]);
      const artifact = (await call('GET', `${P}/applications/web/artifacts/${image.digest}`)).body;
      assert.equal(artifact.scan.critical, 2);
    });

    test('a referrer of what never becomes an artifact is let go; one whose subject has no open event at once', async () => {
      const stranger = buildImage({ layers: [300] });
      await pushImage(reg.url, 'dev/thing', stranger, { tag: `x-${backend}` });
      const report = buildArtifact(stranger, { artifactType: TRIVY, content: trivyReport(0) });
      await pushReferrer(reg.url, 'dev/thing', report);
      await api.services.intake.receive(registryId, 'distribution', [
        { id: `stranger-${backend}`, repository: 'dev/thing', digest: report.digest },
      ]);
      assert.equal(await api.services.intake.processOne(), true);
      const ignored = await event(`stranger-${backend}`);
      assert.deepEqual(
        [ignored.state, ignored.outcome],
        ['IGNORED', `a referrer of ${stranger.digest}, which is no artifact`],
      );

      // Its subject's event open for longer than the wait allows (received long ago): let go, not kept forever.
      await pushImage(reg.url, 'dev/thing', stranger, { tag: `y-${backend}` });
      await api.services.intake.receive(registryId, 'distribution', [
        { id: `stuck-${backend}`, repository: 'dev/thing', tag: `y-${backend}`, digest: stranger.digest },
      ]);
      const stuck = await claimJob(api.database.db, PUSH_EVENT_JOBS, new Date(), 60_000);
      assert.ok(stuck);
      assert.equal((await event(`stuck-${backend}`)).state, 'WORKING');
      await api.services.intake.receive(registryId, 'distribution', [
        { id: `late-${backend}`, repository: 'dev/thing', digest: report.digest },
      ]);
      await api.database.db
        .updateTable('push_events')
        .set({ received_at: new Date(Date.now() - 60_000) })
        .where('id', 'like', `%:late-${backend}`)
        .execute();
      assert.equal(await api.services.intake.processOne(), true);
      assert.equal((await event(`late-${backend}`)).state, 'IGNORED');
      await settleJob(api.database.db, PUSH_EVENT_JOBS, stuck, { state: 'DONE', outcome: 'x', done_at: new Date() });
    });
  });
}
