import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDistributionEvents, parseGenericEvent, parseHarborEvent } from '../../src/automation/push-events.ts';

const D = `sha256:${'ab'.repeat(32)}`;
const OCI = 'application/vnd.oci.image.manifest.v1+json';

test('distribution: manifest pushes only; pulls, blob pushes, deletes and mounts are dropped', () => {
  const events = parseDistributionEvents({
    events: [
      {
        id: 'e1',
        timestamp: '2026-11-23T10:00:00Z',
        action: 'push',
        target: { mediaType: OCI, digest: D, repository: 'dev/web', tag: 'v1' },
        request: { host: 'reg:5000' },
      },
      { id: 'e2', action: 'pull', target: { mediaType: OCI, digest: D, repository: 'dev/web' } },
      {
        id: 'e3',
        action: 'push',
        target: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D, repository: 'dev/web' },
      },
      { id: 'e4', action: 'delete', target: { digest: D, repository: 'dev/web' } },
      {
        id: 'e5',
        action: 'push',
        target: {
          mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
          digest: D,
          repository: 'dev/web',
        },
      },
    ],
  });
  assert.deepEqual(
    events.map((e) => [e.id, e.repository, e.tag, e.host]),
    [
      ['e1', 'dev/web', 'v1', 'reg:5000'],
      ['e5', 'dev/web', undefined, undefined],
    ],
  );
  assert.equal(events[0]?.at?.toISOString(), '2026-11-23T10:00:00.000Z');
});

test('distribution: a malformed body names the bad part', () => {
  const push = (target: object, id: unknown = 'x') => ({
    events: [{ id, action: 'push', target: { mediaType: OCI, ...target } }],
  });
  assert.throws(() => parseDistributionEvents(null), /body: the body is not a JSON object/);
  assert.throws(() => parseDistributionEvents({ events: 5 }), /events: .*not an array/);
  assert.throws(
    () => parseDistributionEvents(push({ digest: 'sha256:xyz', repository: 'dev/web' })),
    /events\[0\]\.target\.digest: "sha256:xyz" is not a digest/,
  );
  assert.throws(
    () => parseDistributionEvents(push({ digest: D, repository: 'Dev/Web' })),
    /events\[0\]\.target\.repository/,
  );
  assert.throws(
    () => parseDistributionEvents(push({ digest: D, repository: 'dev/web', tag: 'bad tag' })),
    /events\[0\]\.target\.tag/,
  );
  assert.throws(() => parseDistributionEvents(push({ digest: D, repository: 'dev/web' }, 7)), /events\[0\]\.id/);
  assert.throws(() => parseDistributionEvents({ events: [{ action: 'push' }] }), /events\[0\]\.target: missing/);
  assert.throws(() => parseDistributionEvents({ events: Array.from({ length: 1001 }, () => ({})) }), /at most 1000/);
  assert.deepEqual(parseDistributionEvents({ events: [], __proto__: { events: [1] } }), []);
});

test('harbor: classic and CloudEvents PUSH_ARTIFACT; other types ignored', () => {
  const data = {
    resources: [{ digest: D, tag: '1.0', resource_url: 'harbor.example.com/library/web:1.0' }],
    repository: { name: 'web', namespace: 'library', repo_full_name: 'library/web' },
  };
  const classic = parseHarborEvent({ type: 'PUSH_ARTIFACT', occur_at: 1700000000, operator: 'ci', event_data: data });
  assert.deepEqual(
    classic.map((e) => [e.repository, e.tag, e.digest, e.host]),
    [['library/web', '1.0', D, 'harbor.example.com']],
  );
  assert.equal(
    classic[0]?.id,
    parseHarborEvent({ type: 'PUSH_ARTIFACT', occur_at: 1700000000, event_data: data })[0]?.id,
    'a stable id, so a retry is a duplicate',
  );
  const cloud = parseHarborEvent({
    specversion: '1.0',
    type: 'harbor.artifact.pushed',
    id: 'ce-1',
    time: '2026-11-23T10:00:00Z',
    data,
  });
  assert.equal(cloud.length, 1);
  assert.match(cloud[0]?.id ?? '', /^ce-1/);
  assert.deepEqual(parseHarborEvent({ type: 'PULL_ARTIFACT', event_data: data }), []);
  assert.deepEqual(parseHarborEvent({ specversion: '1.0', type: 'harbor.artifact.deleted', data }), []);
  assert.throws(
    () => parseHarborEvent({ type: 'PUSH_ARTIFACT', event_data: { ...data, resources: [{ digest: 'nope' }] } }),
    /event_data\.resources\[0\]\.digest/,
  );
  assert.throws(() => parseHarborEvent({ type: 'PUSH_ARTIFACT' }), /event_data: missing/);
});

test('generic: one or many, ids derived when absent', () => {
  const [one] = parseGenericEvent({ repository: 'dev/web', tag: 'v1', digest: D });
  assert.equal(one?.id.length, 64);
  assert.deepEqual(
    parseGenericEvent([{ repository: 'a', digest: D, id: 'x' }]).map((e) => e.id),
    ['x'],
  );
  assert.throws(() => parseGenericEvent({ repository: 'dev/web' }), /body\.digest/);
  assert.throws(() => parseGenericEvent([{ repository: 'a', digest: D }, 'junk']), /\[1\]: not an object/);
  assert.throws(() => parseGenericEvent('hello'), /body: not an object/);
});
