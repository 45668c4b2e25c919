/**
 * Promotion decisions and requests under concurrency, on both backends: two promoters approving one request at the
 * same moment (20 rounds) end with the target queued once with both approvals; the same promoter approving twice
 * at once gets one 200 and one 409 that says why; an `Idempotency-Key` re-sent (also concurrently) answers the
 * first request; duplicate targets are labelled by environment in the audit entry; a protected environment without
 * a policy needs an approval; removing a policy from where requests wait makes them STALE.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
const image = buildImage({ layers: [1000] });
before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', image, { tag: '1.0' });
});
after(() => reg?.stop());

for (const backend of BACKENDS) {
  void describe(`promotion decisions under concurrency [${backend}]`, () => {
    let api: TestApi;
    let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
    const P = '/api/v1/projects/shop';
    const request = (to: string[], headers: Record<string, string> = {}, who = 'devon') =>
      api.app.inject({
        method: 'POST',
        url: `${P}/applications/web/promotions`,
        headers: { authorization: `Bearer ${tokens[who] ?? ''}`, ...headers },
        payload: { digest: image.digest, from: 'dev', to },
      });
    const tokens: Record<string, string> = {};
    before(async () => {
      api = await startApi(backend);
      for (const u of ['devon', 'pat', 'pia']) tokens[u] = await api.tokenFor(u);
      tokens.root = await api.tokenFor('root', { admin: true });
      as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
      await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
      await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
      await as('root', 'POST', `${P}/applications`, { name: 'web' });
      for (const env of ['dev', 'staging', 'prod'])
        await as('root', 'PUT', `${P}/namespaces`, { registry: 'local', prefix: `${env}/` });
      for (const env of ['dev', 'staging', 'prod'])
        await as('root', 'PUT', `${P}/environments/${env}`, {
          kind: 'repository',
          registry: 'local',
          repository: `${env}/{app}`,
          ...(env === 'prod' ? { protected: true } : {}),
        });
      await as('root', 'PUT', `${P}/pipeline`, {
        edges: [
          { from: 'dev', to: 'staging' },
          { from: 'staging', to: 'prod' },
          { from: 'dev', to: 'prod' },
        ],
      });
      await as('root', 'POST', `${P}/members`, { username: 'devon', role: 'developer' });
      await as('root', 'POST', `${P}/members`, { username: 'pat', role: 'promoter' });
      await as('root', 'POST', `${P}/members`, { username: 'pia', role: 'promoter' });
      await as('root', 'POST', '/api/v1/policies', { name: 'two-eyes', approverCount: 2 });
      await as('root', 'POST', '/api/v1/policies/two-eyes/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
      const reg1 = await as('devon', 'POST', `${P}/applications/web/artifacts`, {
        reference: `${reg.host}/dev/web:1.0`,
      });
      assert.equal(reg1.status, 201, JSON.stringify(reg1.body));
    });
    after(() => api?.close());

    test('20 rounds of two promoters approving at once: queued exactly once, with both approvals', async () => {
      for (let round = 0; round < 20; round++) {
        const r = await request(['staging']);
        assert.equal(r.statusCode, 201, r.body);
        const id = r.json().id as string;
        const answers = await Promise.all(
          ['pat', 'pia'].map((who) => as(who, 'POST', `${P}/promotions/${id}/approve`, {})),
        );
        assert.deepEqual(
          answers.map((a) => a.status),
          [200, 200],
          JSON.stringify(answers.map((a) => a.body)),
        );
        const target = (await as('devon', 'GET', `${P}/promotions/${id}`)).body.targets[0];
        assert.equal(target.state, 'QUEUED', `round ${round}`);
        assert.deepEqual(target.approvals.map((a: { username: string }) => a.username).sort(), ['pat', 'pia']);
        assert.deepEqual(target.blockedBy, []);
        const audit = await as('root', 'GET', `/api/v1/audit?objectType=promotion&objectId=${id}`);
        assert.equal(audit.status, 200, JSON.stringify(audit.body));
        const approvals = audit.body.items.filter((e: { action: string }) => e.action === 'promotion.approve');
        assert.equal(approvals.length, 2, 'both approvals audited');
        const queued = approvals.filter(
          (e: { summary: { states: Record<string, string> } }) => e.summary.states.staging === 'QUEUED',
        );
        assert.equal(queued.length, 1, 'queued by exactly one decision');
      }
    });

    test('the same promoter approving twice at once: one 200, one 409 that says so', async () => {
      const id = (await request(['staging'])).json().id as string;
      const answers = await Promise.all([1, 2].map(() => as('pat', 'POST', `${P}/promotions/${id}/approve`, {})));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409]);
      const refused = answers.find((a) => a.status === 409);
      assert.match(refused?.body.error.message, /you have decided on staging already \(approved at/);
      const target = (await as('devon', 'GET', `${P}/promotions/${id}`)).body.targets[0];
      assert.deepEqual([target.state, target.approvals.length], ['AWAITING_APPROVAL', 1]);
      assert.deepEqual(target.blockedBy, [
        { kind: 'approvals', have: 1, need: 2, eligible: ['pia'], because: 'policy' },
      ]);
    });

    test('an Idempotency-Key re-sent answers the first request (200), never a second; another body is a 409', async () => {
      const key = { 'idempotency-key': `k-${backend}-1` };
      const before = (await as('devon', 'GET', `${P}/promotions?limit=1000`)).body.items.length;
      const [a, b] = await Promise.all([request(['staging'], key), request(['staging'], key)]);
      assert.deepEqual([a.statusCode, b.statusCode].sort(), [200, 201]);
      assert.equal(a.json().id, b.json().id);
      const again = await request(['staging'], key);
      assert.deepEqual([again.statusCode, again.json().id], [200, a.json().id]);
      assert.equal((await as('devon', 'GET', `${P}/promotions?limit=1000`)).body.items.length, before + 1);
      const other = await request(['prod'], key);
      assert.equal(other.statusCode, 409);
      assert.match(other.json().error.message, /Idempotency-Key .* different request/);
      // Keys are per caller: another person's same key is their own request.
      assert.equal((await request(['staging'], key, 'pat')).statusCode, 201);
    });

    test('duplicate targets: one target each, and the audit entry labels states by environment', async () => {
      const r = await request(['staging', 'staging', 'prod']);
      assert.equal(r.statusCode, 201, r.body);
      const body = r.json();
      assert.deepEqual(
        body.targets.map((t: { environment: string; state: string }) => [t.environment, t.state]),
        [
          ['staging', 'AWAITING_APPROVAL'],
          ['prod', 'AWAITING_APPROVAL'],
        ],
      );
      const audit = (await as('root', 'GET', `/api/v1/audit?objectId=${body.id}`)).body.items.find(
        (e: { objectId: string; action: string }) => e.objectId === body.id && e.action === 'promotion.request',
      );
      assert.deepEqual(audit.summary.states, { staging: 'AWAITING_APPROVAL', prod: 'AWAITING_APPROVAL' });
    });

    test('a protected environment without a policy needs one approval', async () => {
      const r = await request(['prod']);
      const prod = r.json().targets[0];
      assert.deepEqual([prod.state, prod.approvalsNeeded, prod.policy], ['AWAITING_APPROVAL', 1, null]);
      assert.deepEqual(prod.blockedBy, [
        { kind: 'approvals', have: 0, need: 1, eligible: ['pat', 'pia'], because: 'protected' },
      ]);
    });

    test('removing the policy from a combination with waiting requests makes them STALE (never promoted)', async () => {
      const waiting = (await request(['staging'])).json().id as string;
      await as('pat', 'POST', `${P}/promotions/${waiting}/approve`, {});
      const removed = await as('root', 'POST', '/api/v1/policies/two-eyes/unapply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'staging' }],
      });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      const target = (await as('devon', 'GET', `${P}/promotions/${waiting}`)).body.targets[0];
      assert.deepEqual([target.state, target.blockedBy[0].kind], ['STALE', 'stale']);
      assert.match(target.reasons.join('; '), /policy two-eyes no longer applies to web → staging/);
      assert.equal(await api.services.runner.runOne(), false, 'nothing to run: the stale target is not queued');
      assert.equal((await as('root', 'DELETE', '/api/v1/policies/two-eyes')).status, 204);
    });

    test('the preview answers the plan and writes nothing', async () => {
      const count = async () => (await as('devon', 'GET', `${P}/promotions?limit=1000`)).body.items.length;
      const n = await count();
      const p = await as('devon', 'POST', `${P}/applications/web/promotions/preview`, {
        digest: image.digest,
        from: 'dev',
        to: ['staging', 'prod'],
      });
      assert.equal(p.status, 200, JSON.stringify(p.body));
      assert.deepEqual(
        [p.body.refusal, p.body.targets.map((t: { environment: string; state: string }) => [t.environment, t.state])],
        [
          null,
          [
            ['staging', 'QUEUED'],
            ['prod', 'AWAITING_APPROVAL'],
          ],
        ],
      );
      const refused = await as('devon', 'POST', `${P}/applications/web/promotions/preview`, {
        digest: image.digest,
        from: 'staging',
        to: ['prod'],
      });
      assert.deepEqual([refused.status, refused.body.refusal.code], [200, 'INVALID_INPUT']);
      assert.equal(await count(), n);
    });

    test('approve, reject and cancel at the same moment (10 rounds): one decision holds, and only an approval is ever promoted', async () => {
      // prod is protected with no policy: one approval queues it. pat approves, pia rejects, devon (the requester)
      // cancels, all at once.
      const outcomes: Record<string, number> = {};
      const rounds: Array<{ id: string; state: string }> = [];
      for (let round = 0; round < 10; round++) {
        const r = await request(['prod']);
        assert.equal(r.statusCode, 201, r.body);
        const id = r.json().id as string;
        const [approve, reject, cancel] = await Promise.all([
          as('pat', 'POST', `${P}/promotions/${id}/approve`, {}),
          as('pia', 'POST', `${P}/promotions/${id}/reject`, { comment: 'no' }),
          as('devon', 'POST', `${P}/promotions/${id}/cancel`),
        ]);
        const where = `round ${round}: ${JSON.stringify([approve.body, reject.body, cancel.body]).slice(0, 600)}`;
        for (const a of [approve, reject, cancel]) assert.ok(a.status === 200 || a.status === 409, where);
        const target = (await as('devon', 'GET', `${P}/promotions/${id}`)).body.targets[0];
        outcomes[target.state] = (outcomes[target.state] ?? 0) + 1;
        // Whatever the order, the end state is one a decision that was answered 200 made.
        if (target.state === 'QUEUED') {
          assert.equal(approve.status, 200, where);
          assert.equal(reject.status, 409, `a rejection after the approval is refused, not lost: ${where}`);
          assert.equal(cancel.status, 409, `the request was not canceled under the approval: ${where}`);
          assert.deepEqual(
            target.approvals.map((a: { username: string }) => a.username),
            ['pat'],
          );
        } else if (target.state === 'REJECTED') {
          assert.equal(reject.status, 200, where);
          assert.equal(approve.status, 409, where);
        } else {
          assert.equal(target.state, 'CANCELED', where);
          assert.equal(cancel.status, 200, where);
        }
        rounds.push({ id, state: target.state });
      }
      // Last in this file: the runner also carries out what the tests above queued.
      while (await api.services.runner.runOne());
      for (const { id, state } of rounds) {
        const after = (await as('devon', 'GET', `${P}/promotions/${id}`)).body.targets[0].state;
        assert.equal(after, state === 'QUEUED' ? 'PROMOTED' : state, `${id} was ${state}: ${JSON.stringify(outcomes)}`);
      }
    });
  });
}
