/** Namespace paths as a table: what is under a prefix, what overlaps, and the grants migration 0013 derives. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deriveGrants,
  fixedPart,
  isUnder,
  normalizePrefix,
  overlaps,
  templateUnder,
} from '../../src/store/namespace-paths.ts';

test('prefixes are whole path components', () => {
  assert.equal(normalizePrefix('shop/'), 'shop');
  assert.equal(normalizePrefix('team/shop'), 'team/shop');
  for (const bad of ['', '/', 'Shop/', 'a//b', '../x', 'shop/ '] as const)
    assert.equal(normalizePrefix(bad), undefined, bad);
  assert.ok(isUnder('shop/web', 'shop'));
  assert.ok(isUnder('shop', 'shop'));
  assert.ok(!isUnder('shopping/web', 'shop'));
  assert.ok(overlaps('shop', 'shop/web') && overlaps('shop/web', 'shop'));
  assert.ok(!overlaps('shop', 'shop-prod'));
});

test("a template is under a prefix only when every application's expansion is", () => {
  assert.equal(fixedPart('team/prod/{app}/x'), 'team/prod');
  assert.equal(fixedPart('{app}'), '');
  assert.ok(templateUnder('shop/prod/{app}', 'shop'));
  assert.ok(templateUnder('shop/{app}', 'shop'));
  assert.ok(templateUnder('shop/web', 'shop'));
  assert.ok(!templateUnder('{app}', 'shop'), 'an application named shop would not make it safe');
  assert.ok(!templateUnder('{app}/shop', 'shop'));
  assert.ok(!templateUnder('shopx/{app}', 'shop'));
});

test('derived grants: one project per prefix; overlaps between projects and unfixed templates are reported, not granted', () => {
  const env = (project: string, environment: string, template: string, registry = 'r') => ({
    projectId: `id-${project}`,
    project,
    environment,
    registryId: `id-${registry}`,
    registry,
    template,
  });
  const { grants, notes } = deriveGrants([
    env('alpha', 'dev', 'alpha/dev/{app}'),
    env('alpha', 'prod', 'alpha/{app}'),
    env('beta', 'prod', 'beta-prod/{app}'),
    env('alpha', 'sneaky', 'beta-prod/{app}'),
    env('gamma', 'any', '{app}'),
    env('gamma', 'other', 'beta-prod/{app}', 'elsewhere'),
  ]);
  assert.deepEqual(grants.map((g) => `${g.projectId} ${g.registryId} ${g.prefix}`).sort(), [
    'id-alpha id-r alpha',
    'id-gamma id-elsewhere beta-prod',
  ]);
  assert.equal(notes.filter((n) => n.startsWith('granted:')).length, 2);
  assert.ok(
    notes.some((n) => /^conflict: r\/beta-prod\/ is used by project "alpha"/.test(n)),
    notes.join('\n'),
  );
  assert.ok(
    notes.some((n) => /^conflict: r\/beta-prod\/ is used by project "beta"/.test(n)),
    notes.join('\n'),
  );
  assert.ok(
    notes.some((n) => /^not granted: environment gamma\/any/.test(n)),
    notes.join('\n'),
  );
});
