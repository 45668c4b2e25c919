/**
 * The bearer token cache of one registry host is bounded (src/oci/authenticator.ts): a server promoting into many
 * repositories keeps at most 512 scope sets, the oldest dropped first, and a token in use stays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authenticator } from '../../src/oci/authenticator.ts';

test('at most 512 scope sets are kept; the oldest is fetched again, the newest is not', async () => {
  let fetches = 0;
  const auth = new Authenticator('reg', undefined, async () => ({ token: `t${++fetches}`, expiresInSeconds: 300 }));
  const scopes = (i: number) => [`repository:r${i}:pull`];
  auth.unauthorized('Bearer realm="http://auth.test/token",service="reg"', scopes(0), undefined);
  for (let i = 0; i < 600; i++) await auth.header(scopes(i));
  assert.equal(fetches, 600);
  assert.equal(await auth.header(scopes(599)), 'Bearer t600', 'the newest is kept');
  assert.equal(fetches, 600);
  assert.equal(await auth.header(scopes(0)), 'Bearer t601', 'the oldest was dropped and is fetched again');
});
