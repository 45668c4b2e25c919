/**
 * A rule or policy cannot freeze the server: a viewer may not dry-run rules at all, an owner's dry-run of the
 * catastrophic regex answers (RE2), nested comprehensions are refused with their line and column when a rule or
 * policy is saved, and evaluating a policy on made-up values is for admins, who write policies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { buildImage } from '../harness/images.ts';
import { pushImage } from '../harness/push.ts';

let reg: TestRegistry;
let api: TestApi;
let as: (who: string, ...call: Parameters<Call>) => ReturnType<Call>;
const P = '/api/v1/projects/shop';
const SIXTEEN = `[${Array.from({ length: 16 }, (_, i) => i).join(', ')}]`;
const EVIL_REGEX = '"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!".matches("^(a+)+$") || image.tag.matches("^(a+)+$")';

before(async () => {
  reg = await startRegistry();
  await pushImage(reg.url, 'dev/web', buildImage({ layers: [500] }), { tag: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaa-' });
  api = await startApi('pglite');
  const tokens: Record<string, string> = {
    root: await api.tokenFor('root', { admin: true }),
    olga: await api.tokenFor('olga'),
    vera: await api.tokenFor('vera'),
  };
  as = (who, ...rest) => caller(api.app, tokens[who] ?? '')(...rest);
  await as('root', 'POST', '/api/v1/registries', { name: 'local', url: `http://${reg.host}` });
  await as('root', 'POST', '/api/v1/projects', { name: 'shop' });
  for (const prefix of ['dev/', 'staging/', 'prod/'])
    await as('root', 'PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix });
  await as('root', 'POST', `${P}/applications`, { name: 'web' });
  for (const env of ['dev', 'staging'])
    await as('root', 'PUT', `${P}/environments/${env}`, {
      kind: 'repository',
      registry: 'local',
      repository: `${env}/{app}`,
    });
  await as('root', 'PUT', `${P}/pipeline`, { edges: [{ from: 'dev', to: 'staging' }] });
  await as('root', 'POST', `${P}/members`, { username: 'olga', role: 'owner' });
  await as('root', 'POST', `${P}/members`, { username: 'vera', role: 'viewer' });
  const registered = await as('root', 'POST', `${P}/applications/web/artifacts`, {
    reference: `${reg.host}/dev/web:aaaaaaaaaaaaaaaaaaaaaaaaaaaa-`,
  });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
});
after(async () => {
  await api?.close();
  await reg?.stop();
});

test('rule dry-runs are for owners; the catastrophic regex answers at once with RE2', async () => {
  const rule = { name: 'evil', from: 'dev', to: 'staging', cel: EVIL_REGEX };
  assert.equal((await as('vera', 'POST', `${P}/rules/dry-run`, rule)).status, 403);
  const dry = await as('olga', 'POST', `${P}/rules/dry-run`, rule);
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  assert.deepEqual(
    dry.body.artifacts.map((a: { matches: boolean; error?: string }) => [a.matches, a.error]),
    [[false, undefined]],
  );
  const health = await api.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
});

test('nested comprehensions are refused when a rule or a policy is saved, with the limit and the position', async () => {
  let nested = 'a0 >= 0';
  for (let i = 5; i >= 0; i--) nested = `${SIXTEEN}.all(a${i}, ${nested})`;
  const rule = await as('olga', 'POST', `${P}/rules`, { name: 'deep', from: 'dev', to: 'staging', cel: nested });
  assert.equal(rule.status, 400);
  assert.match(rule.body.error.message, /line 1, column \d+: comprehensions are nested more than 3 deep/);
  const policy = await as('root', 'POST', '/api/v1/policies', {
    name: 'costly',
    passConditions: ['image.tag != ""', 'sbom.components.all(c, sbom.licenses.all(l, c != l))'],
  });
  assert.equal(policy.status, 400);
  assert.equal(policy.body.error.details.field, 'passConditions[1]');
  assert.match(policy.body.error.message, /line 1, column 1: the estimated cost [\d,]+ is over the limit/);
});

test('evaluating a policy on sample values is for admins', async () => {
  const created = await as('root', 'POST', '/api/v1/policies', {
    name: 'gate',
    passConditions: ['scan.critical == 0'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const body = { input: { scan: { critical: 0, high: 0, medium: 0, low: 0 } } };
  assert.equal((await as('olga', 'POST', '/api/v1/policies/gate/evaluate', body)).status, 403);
  const evaluated = await as('root', 'POST', '/api/v1/policies/gate/evaluate', body);
  assert.deepEqual([evaluated.status, evaluated.body.allowed], [200, true]);
});
