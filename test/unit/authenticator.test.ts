import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authenticator, type TokenFetcher } from '../../src/oci/authenticator.ts';

const challenge = 'Bearer realm="http://auth.test/token",service="reg"';

function fetcher(): { fetch: TokenFetcher; urls: string[]; headers: Array<Record<string, string>> } {
  const urls: string[] = [];
  const headers: Array<Record<string, string>> = [];
  let n = 0;
  return {
    urls,
    headers,
    fetch: async (url, h) => {
      urls.push(url);
      headers.push(h);
      return { token: `t${++n}`, expiresInSeconds: 300 };
    },
  };
}

test('bearer tokens are fetched per scope set, cached, and shared by concurrent requests', async () => {
  const f = fetcher();
  const auth = new Authenticator('reg', { username: 'u', password: 'p' }, f.fetch);
  assert.equal(await auth.header(['repository:a:pull']), undefined, 'no header before a challenge');
  assert.equal(auth.unauthorized(challenge, ['repository:a:pull'], undefined), true);
  const [h1, h2] = await Promise.all([
    auth.header(['repository:a:pull,push', 'repository:b:pull']),
    auth.header(['repository:a:pull,push', 'repository:b:pull']),
  ]);
  assert.equal(h1, 'Bearer t1');
  assert.equal(h2, 'Bearer t1');
  assert.equal(f.urls.length, 1);
  assert.equal(
    f.urls[0],
    'http://auth.test/token?service=reg&scope=repository%3Aa%3Apull%2Cpush&scope=repository%3Ab%3Apull',
  );
  assert.equal(f.headers[0]?.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
  assert.equal(await auth.header(['repository:c:pull']), 'Bearer t2', 'another scope set, another token');
});

test('a refused token is dropped, so the retry fetches a fresh one', async () => {
  const f = fetcher();
  const auth = new Authenticator('reg', undefined, f.fetch);
  const scopes = ['repository:a:pull'];
  auth.unauthorized(challenge, scopes, undefined);
  assert.equal(await auth.header(scopes), 'Bearer t1');
  assert.equal(auth.unauthorized(challenge, scopes, 'Bearer t1'), true, 'expired token: refresh');
  assert.equal(await auth.header(scopes), 'Bearer t2');
  assert.equal(auth.unauthorized(challenge, scopes, 'Bearer t2'), true);
  assert.equal(await auth.header(scopes), 'Bearer t3');
});

test('basic challenges send the credentials; without credentials there is nothing to retry', () => {
  const withCreds = new Authenticator('reg', { username: 'u', password: 'p' }, fetcher().fetch);
  assert.equal(withCreds.unauthorized('Basic realm="r"', [], undefined), true);
  assert.equal(withCreds.unauthorized('Basic realm="r"', [], 'Basic xyz'), false, 'the credentials were refused');
  const anonymous = new Authenticator('reg', undefined, fetcher().fetch);
  assert.equal(anonymous.unauthorized('Basic realm="r"', [], undefined), false);
});
