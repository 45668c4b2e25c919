/**
 * The attestor's own referrer writes, announced before they are made (src/events/referrer-writes.ts) and recognised
 * at the hook (src/service/own-pushes.ts knownReferrer): exactly the manifests written, by registry, repository,
 * digest and tag, for a while; nothing when an artifact of the subject lives in the repository. Second actor: another
 * writer's manifest, or its index under the same fallback tag, is not known.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { announcingManifests, ownReferrerWrites } from '../../src/events/referrer-writes.ts';
import type { RepositoryClient } from '../../src/oci/registry-client.ts';
import { OwnPushes } from '../../src/service/own-pushes.ts';

const SUBJECT = `sha256:${'a'.repeat(64)}`;
const TAG = `sha256-${'a'.repeat(64)}`;
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const manifest = Buffer.from('{"schemaVersion":2,"subject":"ours"}');
const index = Buffer.from('{"schemaVersion":2,"manifests":["ours"]}');

/** A client that records what it puts, and puts the fallback index through its own putManifest, as the real one. */
function fakeRepository(log: string[]) {
  const repo = {
    name: 'staging/web',
    putManifest(ref: string, _bytes: Buffer, _mediaType: string) {
      log.push(`put ${ref}`);
      return Promise.resolve({ digest: ref, subjectIndexed: false });
    },
    async addToReferrersIndex(subject: string) {
      await this.putManifest(subject.replace(':', '-'), index, 'application/vnd.oci.image.index.v1+json');
      return true;
    },
  };
  return repo as unknown as RepositoryClient & typeof repo;
}

test('announced before each put, the index put inside the client included', async () => {
  const log: string[] = [];
  const repo = announcingManifests(fakeRepository(log), (w) => log.push(`announce ${w.digest} ${w.tag ?? '-'}`));
  await repo.putManifest(sha(manifest), manifest, 'application/vnd.oci.image.manifest.v1+json');
  await repo.addToReferrersIndex(SUBJECT, []);
  assert.deepEqual(log, [
    `announce ${sha(manifest)} -`,
    `put ${sha(manifest)}`,
    `announce ${sha(index)} ${TAG}`,
    `put ${TAG}`,
  ]);
});

test('known at the hook: exactly the writes made, for a minute; not when an artifact reads referrers there', async () => {
  let now = 1_000;
  const own = new OwnPushes(() => now);
  const target = { registryId: 'reg', repository: 'staging/web', subject: SUBJECT };
  const repo = await ownReferrerWrites(fakeRepository([]), target, own, () => Promise.resolve(false));
  await repo.putManifest(sha(manifest), manifest, 'application/vnd.oci.image.manifest.v1+json');
  await repo.addToReferrersIndex(SUBJECT, []);
  const event = { registryId: 'reg', repository: 'staging/web' };
  assert.equal(own.knownReferrer({ ...event, digest: sha(manifest) }), true, 'our manifest, by digest');
  assert.equal(own.knownReferrer({ ...event, digest: sha(index), tag: TAG }), true, 'our fallback index');
  // Second actor: another writer's index under the same tag right after ours, or its own manifest.
  const theirs = Buffer.from('{"schemaVersion":2,"manifests":["ours","theirs"]}');
  assert.equal(own.knownReferrer({ ...event, digest: sha(theirs), tag: TAG }), false, 'their index, same tag');
  assert.equal(own.knownReferrer({ ...event, digest: sha(theirs) }), false, 'their manifest');
  assert.equal(own.knownReferrer({ ...event, digest: sha(manifest), tag: 'v1' }), false, 'tagged otherwise');
  assert.equal(own.knownReferrer({ ...event, repository: 'prod/web', digest: sha(manifest) }), false, 'elsewhere');
  assert.equal(own.knownReferrer({ ...event, registryId: 'other', digest: sha(manifest) }), false, 'other registry');
  assert.equal(own.knownEcho({ ...event, digest: sha(manifest) }), false, 'not an image write');
  now += 60_001;
  assert.equal(own.knownReferrer({ ...event, digest: sha(manifest) }), false, 'forgotten after a minute');

  // An artifact of the subject lives in the repository: the write changes its referrers, the events are worked.
  const reads = new OwnPushes(() => now);
  const plain = fakeRepository([]);
  const used = await ownReferrerWrites(plain, target, reads, () => Promise.resolve(true));
  assert.equal(used, plain, 'the plain client');
  await used.putManifest(sha(manifest), manifest, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(reads.knownReferrer({ ...event, digest: sha(manifest) }), false);
});
