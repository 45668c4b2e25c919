/**
 * Password hashes: production's scrypt cost is what a hash made without one says it was made with, and a hash is
 * verified with the cost it names, so the cheaper one the test APIs use (TEST_PASSWORD_COST) runs the same code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, PASSWORD_COST, verifyPassword } from '../../src/service/passwords.ts';

const CHEAPER = { N: 1024, r: 8, p: 1 }; // as test/helpers/api.ts's TEST_PASSWORD_COST

test("a hash made without a cost uses production's (N 16384, r 8, p 1) and verifies", async () => {
  assert.deepEqual(PASSWORD_COST, { N: 16384, r: 8, p: 1 });
  const stored = await hashPassword('correct horse battery');
  assert.match(stored, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.equal(await verifyPassword('correct horse battery', stored), true);
  assert.equal(await verifyPassword('correct horse batter', stored), false);
});

test('a hash names its own cost and is verified with it, whatever the default is now', async () => {
  const stored = await hashPassword('correct horse battery', CHEAPER);
  assert.match(stored, new RegExp(`^scrypt\\$${CHEAPER.N}\\$8\\$1\\$`));
  assert.equal(await verifyPassword('correct horse battery', stored), true);
  assert.equal(await verifyPassword('Correct horse battery', stored), false);
  const salted = await hashPassword('correct horse battery', CHEAPER);
  assert.notEqual(salted, stored, 'a fresh salt each time');
  assert.equal(await verifyPassword('correct horse battery', 'bcrypt$whatever'), false, 'another scheme');
});
