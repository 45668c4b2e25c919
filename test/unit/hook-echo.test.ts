/**
 * Push events recognised at the hook as this process's own writes (src/service/own-pushes.ts knownEcho, with
 * src/events/sole-holder.ts): only a write under way, into the one environment holding the repository (and tag), and
 * only once that was asked; the second actor is another application's (or project's) environment holding the same
 * repository, whose event must still be worked in full.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as tick } from 'node:timers/promises';
import { OwnPushes } from '../../src/service/own-pushes.ts';
import { SoleHolders, type RegistryEnvironment } from '../../src/events/sole-holder.ts';

const D = `sha256:${'b'.repeat(64)}`;
const push = { registryId: 'reg', repository: 'staging/web', digest: D, tag: 'v1' };
const env = (id: string, over: Partial<RegistryEnvironment> = {}): RegistryEnvironment => ({
  id,
  kind: 'repository',
  repository_template: `${id}/{app}`,
  tag_template: null,
  app: 'web',
  ...over,
});

async function recognised(environments: RegistryEnvironment[], writing: boolean, event = push): Promise<boolean> {
  const holders = new SoleHolders(() => Promise.resolve(environments));
  const own = new OwnPushes();
  own.soleHolder = (p, environmentId) => holders.sole(p, environmentId);
  if (writing) own.remember(push, 'staging');
  await tick(1);
  return own.knownEcho(event);
}

test('known at the hook: a write under way into the only environment holding the repository', async () => {
  const cases: Array<[string, RegistryEnvironment[], boolean, boolean]> = [
    ['the only holder, being written', [env('staging'), env('dev')], true, true],
    ['the only holder, but not written by this process', [env('staging')], false, false],
    [
      "another application's environment holds the repository too",
      [env('staging'), env('other', { repository_template: 'staging/{app}' })],
      true,
      false,
    ],
    [
      'another application of the project (a template without {app})',
      [
        env('staging', { repository_template: 'staging/web' }),
        env('staging', { repository_template: 'staging/web', app: 'api' }),
      ],
      true,
      true,
    ],
    ['no environment holds it (registered nowhere)', [env('dev')], true, false],
    [
      'a tag convention matching the tag, elsewhere',
      [env('staging'), env('conv', { kind: 'tag', repository_template: 'staging/{app}', tag_template: '{tag}' })],
      true,
      false,
    ],
    [
      'a tag convention not matching the tag',
      [env('staging'), env('conv', { kind: 'tag', repository_template: 'staging/{app}', tag_template: 'prod-{tag}' })],
      true,
      true,
    ],
  ];
  for (const [name, environments, writing, expected] of cases)
    assert.equal(await recognised(environments, writing), expected, name);
});

test('known at the hook: by registry, repository, digest and tag; not before the holders were asked', async () => {
  assert.equal(await recognised([env('staging')], true, { ...push, tag: 'v2' }), false, 'another tag');
  assert.equal(await recognised([env('staging')], true, { ...push, registryId: 'other' }), false, 'another registry');
  let answer: (v: RegistryEnvironment[]) => void = () => {};
  const holders = new SoleHolders(() => new Promise((r) => (answer = r)));
  const own = new OwnPushes();
  own.soleHolder = (p, environmentId) => holders.sole(p, environmentId);
  own.remember(push, 'staging');
  assert.equal(own.knownEcho(push), false, 'not yet asked: the event goes the normal way');
  answer([env('staging')]);
  await tick(1);
  assert.equal(own.knownEcho(push), true);
  const failing = new OwnPushes();
  failing.soleHolder = () => Promise.reject(new Error('database down'));
  failing.remember(push, 'staging');
  await tick(1);
  assert.equal(failing.knownEcho(push), false, 'a failed question answers no');
});

test("sole holders: a registry's environments are read once for a second, then again", async () => {
  let now = 0;
  let reads = 0;
  const holders = new SoleHolders(
    () => (reads++, Promise.resolve([env('staging')])),
    () => now,
  );
  await holders.sole(push, 'staging');
  await holders.sole({ ...push, tag: undefined }, 'staging');
  assert.equal(reads, 1);
  now += 1001;
  assert.equal(await holders.sole(push, 'staging'), true);
  assert.equal(reads, 2);
});
