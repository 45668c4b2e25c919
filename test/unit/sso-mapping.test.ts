/**
 * The pure parts of single sign-on as tables: `group:project:role` mappings, the groups claim read leniently, the
 * access groups give, user names for new external users, and the URLs a sign-in may send a browser to (a path on
 * this server after a sign-in; the CLI's loopback URL).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCliRedirect, safeReturnTo } from '../../src/service/sso-urls.ts';
import { accessFor, groupsOf, parseGroupRole, usernameCandidates } from '../../src/service/sso-mapping.ts';

test('group:project:role mappings: the last two parts are project and role; * only with admin', () => {
  const ok: Array<[string, { group: string; project: string; role: string }]> = [
    ['team-a:shop:promoter', { group: 'team-a', project: 'shop', role: 'promoter' }],
    ['ops:*:admin', { group: 'ops', project: '*', role: 'admin' }],
    ['cn=ops:eu:shop:viewer', { group: 'cn=ops:eu', project: 'shop', role: 'viewer' }],
    ['/acme/devs:web-2:developer', { group: '/acme/devs', project: 'web-2', role: 'developer' }],
  ];
  for (const [text, value] of ok) assert.deepEqual(parseGroupRole(text), { ok: true, value }, text);
  const bad: Array<[string, RegExp]> = [
    ['team-a:shop', /not GROUP:PROJECT:ROLE/],
    [':shop:viewer', /not GROUP:PROJECT:ROLE/],
    ['team-a:shop:boss', /role must be one of owner, promoter, developer, viewer/],
    ['team-a:shop:admin', /admin is not a project role/],
    ['team-a:*:viewer', /project "\*" goes only with role admin/],
    ['team-a:Shop:viewer', /not a project name/],
  ];
  for (const [text, error] of bad) {
    const r = parseGroupRole(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.error, error, text);
  }
});

test('the groups claim: a list, or one string split on spaces and commas; anything else is no groups', () => {
  assert.deepEqual(groupsOf({ groups: ['a', 'b', 3] }, 'groups'), ['a', 'b']);
  assert.deepEqual(groupsOf({ roles: 'a b,c' }, 'roles'), ['a', 'b', 'c']);
  assert.deepEqual(groupsOf({ groups: { a: true } }, 'groups'), []);
  assert.deepEqual(groupsOf({}, 'groups'), []);
});

test('access: each matching mapping once; admin from a *:admin mapping; groups matched named', () => {
  const mappings = [
    { group: 'a', project: 'shop', role: 'promoter' as const },
    { group: 'b', project: 'shop', role: 'promoter' as const },
    { group: 'b', project: 'web', role: 'viewer' as const },
    { group: 'ops', project: '*', role: 'admin' as const },
  ];
  assert.deepEqual(accessFor(['a', 'b', 'x'], mappings), {
    admin: false,
    memberships: [
      { project: 'shop', role: 'promoter' },
      { project: 'web', role: 'viewer' },
    ],
    matched: ['a', 'b'],
  });
  assert.deepEqual(accessFor(['ops'], mappings), { admin: true, memberships: [], matched: ['ops'] });
  assert.deepEqual(accessFor([], mappings), { admin: false, memberships: [], matched: [] });
});

test('user names for a new external user: preferred_username, the e-mail’s local part, then a hash', () => {
  const [first, second, third] = usernameCandidates(
    { preferred_username: 'Alice Smith', email: 'alice.s@example.com' },
    'https://idp',
    'sub-1',
  );
  assert.equal(first, 'alice-smith');
  assert.equal(second, 'alice.s');
  assert.match(third ?? '', /^sso-[0-9a-f]{12}$/);
  assert.deepEqual(usernameCandidates({}, 'https://idp', 'sub-1'), [third]);
  assert.notDeepEqual(usernameCandidates({}, 'https://idp', 'sub-2'), [third], 'per subject');
});

test('after a sign-in only a path on this server is followed', () => {
  for (const path of ['/', '/projects/shop', '/projects/shop/history?state=PROMOTED&app=web', '/a#b'])
    assert.equal(safeReturnTo(path), path);
  assert.equal(safeReturnTo(undefined), '/');
  for (const bad of [
    'https://evil.example',
    '//evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    'javascript:alert(1)',
    'projects',
    '/x\nSet-Cookie: a=b',
    `/${'a'.repeat(2048)}`,
  ])
    assert.throws(() => safeReturnTo(bad), /returnTo/, JSON.stringify(bad));
});

test('the CLI’s redirect: http to a loopback address literal with a port, nothing else', () => {
  assert.equal(checkCliRedirect('http://127.0.0.1:4711/callback'), 'http://127.0.0.1:4711/callback');
  assert.equal(checkCliRedirect('http://[::1]:4711/callback'), 'http://[::1]:4711/callback');
  for (const bad of [
    'https://127.0.0.1:4711/callback',
    'http://localhost:4711/callback',
    'http://127.0.0.1/callback',
    'http://evil.example:4711/',
    'http://127.0.0.1.evil.example:4711/',
    'http://u:p@127.0.0.1:4711/',
    'not a url',
  ])
    assert.throws(() => checkCliRedirect(bad), /cli/, bad);
});
