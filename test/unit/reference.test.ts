import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkReference, formatReference } from '../../src/oci/reference.ts';
import { checkDigest } from '../../src/oci/digest.ts';

const D = `sha256:${'a'.repeat(64)}`;

test('references parse into registry, repository, tag and digest', () => {
  const cases: Array<[string, object]> = [
    ['127.0.0.1:5000/dev/web:1.0', { registry: '127.0.0.1:5000', repository: 'dev/web', tag: '1.0' }],
    [`registry.example/prod/web@${D}`, { registry: 'registry.example', repository: 'prod/web', digest: D }],
    [`localhost:5000/a/b/c:v1@${D}`, { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v1', digest: D }],
    ['localhost/web', { registry: 'localhost', repository: 'web' }],
    ['nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['user/app:latest', { registry: 'docker.io', repository: 'user/app', tag: 'latest' }],
    ['[::1]:5000/web:x', { registry: '[::1]:5000', repository: 'web', tag: 'x' }],
    ['reg.example/a__b/c-d.e_f:T_1.2-3', { registry: 'reg.example', repository: 'a__b/c-d.e_f', tag: 'T_1.2-3' }],
  ];
  for (const [input, expected] of cases) {
    const r = checkReference(input);
    assert.ok(r.ok, `${input}: ${r.ok ? '' : r.error}`);
    assert.deepEqual(r.value, expected, input);
  }
  assert.equal(formatReference({ registry: 'h:1', repository: 'a/b', tag: 't', digest: D }), `h:1/a/b:t@${D}`);
});

test('bad references are refused with the bad part named', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['127.0.0.1:5000/Dev/web', /component "Dev"/],
    ['127.0.0.1:5000/dev//web', /empty component/],
    ['127.0.0.1:5000/dev/web:-bad', /tag "-bad"/],
    [`127.0.0.1:5000/dev/web:${'x'.repeat(129)}`, /tag/],
    ['127.0.0.1:5000/dev/web@sha256:abc', /64 lower-case hex/],
    [`127.0.0.1:5000/dev/web@sha256:${'A'.repeat(64)}`, /64 lower-case hex/],
    [`127.0.0.1:5000/dev/web@md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"/],
    ['127.0.0.1:99999/web', /out of range/],
    ['bad_host.example/web', /not a valid host name/],
    ['dev web', /white space/],
    [`h.example/${'a'.repeat(260)}`, /longer than 255/],
    ['registry.example', /no repository follows/],
  ];
  for (const [input, pattern] of cases) {
    const r = checkReference(input);
    assert.equal(r.ok, false, input);
    if (!r.ok) assert.match(r.error, pattern, input);
  }
});

test('digests must be sha256 or sha512 in lower-case hex of the exact length', () => {
  assert.ok(checkDigest(D).ok);
  assert.ok(checkDigest(`sha512:${'0'.repeat(128)}`).ok);
  assert.equal(checkDigest(`sha256:${'a'.repeat(63)}`).ok, false);
  assert.equal(checkDigest('a'.repeat(64)).ok, false);
});
