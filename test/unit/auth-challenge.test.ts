import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenge } from '../../src/oci/auth-challenge.ts';
import { retryAfterMs } from '../../src/oci/transport.ts';

test('bearer and basic challenges parse, with quoted values and escapes', () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
    ),
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="hoist \\"test\\""'), {
    scheme: 'basic',
    params: { realm: 'hoist "test"' },
  });
  assert.deepEqual(parseChallenge('bearer realm=http://x/t, service=s'), {
    scheme: 'bearer',
    params: { realm: 'http://x/t', service: 's' },
  });
  assert.equal(parseChallenge('').scheme, 'other');
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
});
