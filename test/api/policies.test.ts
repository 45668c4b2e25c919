/**
 * Policies through the API on both backends: the variable catalogue, checking expressions (errors with line and
 * column), versions on change and none on a no-op, Devtron's flag names, applying to application × environment,
 * and a dry evaluation showing each condition's result.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../helpers/backends.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';

for (const backend of BACKENDS) {
  void describe(`policies API [${backend}]`, () => {
    let api: TestApi;
    let call: Call;
    before(async () => {
      api = await startApi(backend);
      call = caller(api.app, await api.tokenFor('root', { admin: true }));
      await call('POST', '/api/v1/registries', { name: 'r', url: 'http://127.0.0.1:5000' });
      await call('POST', '/api/v1/projects', { name: 'shop' });
      await call('PUT', '/api/v1/projects/shop/namespaces', { registry: 'r', prefix: 'prod/' });
      await call('POST', '/api/v1/projects/shop/applications', { name: 'web' });
      await call('PUT', '/api/v1/projects/shop/environments/prod', {
        kind: 'repository',
        registry: 'r',
        repository: 'prod/{app}',
      });
    });
    after(() => api?.close());

    test('the catalogue lists typed variables with examples, Devtron aliases included', async () => {
      const items = (await call('GET', '/api/v1/policy-variables')).body.items as Array<{ name: string; type: string }>;
      assert.ok(items.some((v) => v.name === 'scan.critical' && v.type === 'int'));
      assert.ok(items.some((v) => v.name === 'containerImageTag'));
    });

    test('validate points at the line and column of a problem', async () => {
      assert.deepEqual((await call('POST', '/api/v1/policies/validate', { expression: 'scan.critical == 0' })).body, {
        valid: true,
      });
      const bad = (await call('POST', '/api/v1/policies/validate', { expression: 'scan.critical == 0 &&\n  && true' }))
        .body;
      assert.deepEqual([bad.valid, bad.line, bad.column], [false, 2, 3]);
    });

    test('a change makes a new version, the same rules do not, and a bad condition is refused by field', async () => {
      const created = await call('POST', '/api/v1/policies', {
        name: 'prod-gate',
        description: 'prod needs a clean scan',
        failConditions: ['scan.critical > 0'],
        approverCount: 1,
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.version, 1);
      assert.equal(
        (await call('PUT', '/api/v1/policies/prod-gate', { approverCount: 1 })).body.version,
        1,
        'no change, no version',
      );
      const v2 = await call('PUT', '/api/v1/policies/prod-gate', {
        passConditions: ['signature.present'],
        allowRequestFromApprove: true,
      });
      assert.deepEqual(
        [v2.body.version, v2.body.failConditions, v2.body.passConditions, v2.body.allowRequestFromApprove],
        [2, ['scan.critical > 0'], ['signature.present'], true],
      );
      assert.deepEqual((await call('GET', '/api/v1/policies/prod-gate?version=1')).body.passConditions, []);
      const bad = await call('PUT', '/api/v1/policies/prod-gate', {
        failConditions: ['scan.critical > 0', 'scan.hgh > 1'],
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.details.field, 'failConditions[1]');
      assert.match(bad.body.error.message, /line 1, column \d+/);
      assert.equal((await call('PUT', '/api/v1/policies/prod-gate', { approverCount: 7 })).status, 400);
    });

    test('applies to application × environment and evaluates sample values condition by condition', async () => {
      const applied = await call('POST', '/api/v1/policies/prod-gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'web', environment: 'prod' }],
      });
      assert.deepEqual(applied.body.appliesTo, [{ project: 'shop', application: 'web', environment: 'prod' }]);
      const missing = await call('POST', '/api/v1/policies/prod-gate/apply', {
        applicationEnvironments: [{ project: 'shop', application: 'api', environment: 'prod' }],
      });
      assert.match(missing.body.error.message, /no application "api"/);
      const dirty = (
        await call('POST', '/api/v1/policies/prod-gate/evaluate', {
          input: { image: { tag: 'v1' }, scan: { critical: 2, high: 0, medium: 0, low: 0 }, signaturePresent: true },
        })
      ).body;
      assert.deepEqual(
        [dirty.allowed, dirty.version, dirty.reasons],
        [false, 2, ['fail condition `scan.critical > 0` is true']],
      );
      assert.deepEqual(
        dirty.conditions.map((c: { kind: string; result: boolean }) => [c.kind, c.result]),
        [
          ['pass', true],
          ['fail', true],
        ],
      );
      const clean = (
        await call('POST', '/api/v1/policies/prod-gate/evaluate', {
          input: { scan: { critical: 0, high: 0, medium: 0, low: 0 }, signaturePresent: true },
        })
      ).body;
      assert.equal(clean.allowed, true);
      // A draft (the editor's unsaved conditions) is evaluated instead of the saved ones; nothing is saved.
      const draft = (
        await call('POST', '/api/v1/policies/prod-gate/evaluate', {
          input: { scan: { critical: 2, high: 0, medium: 0, low: 0 }, signaturePresent: true },
          failConditions: ['scan.critical > 5'],
        })
      ).body;
      assert.deepEqual(
        [draft.allowed, draft.conditions.map((c: { expression: string }) => c.expression)],
        [true, ['signature.present', 'scan.critical > 5']],
      );
      assert.deepEqual((await call('GET', '/api/v1/policies/prod-gate')).body.failConditions, ['scan.critical > 0']);
      assert.equal(
        (await call('POST', '/api/v1/policies/prod-gate/evaluate', { input: { scan: { critical: -1 } } })).status,
        400,
        'sample input is validated',
      );
      const audit = (await call('GET', '/api/v1/audit?objectType=policy&order=oldest')).body.items.map(
        (e: { action: string }) => e.action,
      );
      assert.deepEqual(audit, ['policy.create', 'policy.update', 'policy.apply']);
    });
  });
}
