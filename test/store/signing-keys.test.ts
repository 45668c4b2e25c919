/**
 * Where the attestation signing key lives, on both backends: replicas on one database without a key file start at
 * once and still share one key (sealed in the database); the data directory's key file is made with mode 0600 and
 * replaced by a rotation, the old public key staying listed; a key from HOIST_SIGNING_KEY is never rotated by hoist
 * and a wrong kind of key is refused with the reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKENDS, freshDatabase } from '../helpers/backends.ts';
import type { Database } from '../../src/store/database.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import { SigningKeys } from '../../src/service/signing-keys.ts';

const message = Buffer.from('DSSEv1 3 abc 2 {}');

for (const backend of BACKENDS) {
  void describe(`signing keys [${backend}]`, () => {
    let database: Database;
    const box = new SecretBox(randomBytes(32));
    const dir = mkdtempSync(join(tmpdir(), 'hoist-signing-'));
    before(async () => {
      database = await freshDatabase(backend);
    });
    after(() => database?.close());

    test('replicas without a key file starting at once share one key, sealed in the database', async () => {
      const replicas = [new SigningKeys(database.db, box), new SigningKeys(database.db, box)];
      const ids = await Promise.all(replicas.map((r) => r.ensure()));
      assert.equal(ids[0], ids[1], 'one key for both');
      const signers = await Promise.all(replicas.map((r) => r.signer()));
      assert.equal(signers[0]?.keyId, signers[1]?.keyId);
      const listed = await replicas[0]?.list();
      assert.deepEqual(
        listed?.map((k) => [k.current, k.source]),
        [[true, 'database']],
      );
      const rotated = await replicas[1]?.rotate({ username: 'root', isAdmin: true });
      assert.notEqual(rotated?.keyId, ids[0]);
      assert.equal((await replicas[0]?.signer())?.keyId, rotated?.keyId, 'the other replica signs with the new key');
      assert.deepEqual(
        (await replicas[0]?.list())?.map((k) => [k.keyId, k.current]),
        [
          [rotated?.keyId, true],
          [ids[0], false],
        ],
      );
      const sig = (await replicas[0]?.signer())?.sign(message);
      assert.ok(sig && sig.length > 60, 'an ASN.1 DER ECDSA signature');
    });

    test('the data directory key: made with mode 0600, replaced by rotation, the old public key kept', async () => {
      const fresh = await freshDatabase(backend);
      try {
        const file = join(dir, 'data', 'signing.key');
        const keys = new SigningKeys(fresh.db, box, { dataDirKeyFile: file });
        const first = await keys.ensure();
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const pem = readFileSync(file, 'utf8');
        assert.match(pem, /BEGIN PRIVATE KEY/);
        assert.equal(await new SigningKeys(fresh.db, box, { dataDirKeyFile: file }).ensure(), first, 'a restart');
        const rotated = await keys.rotate({ username: 'root', isAdmin: true });
        assert.notEqual(readFileSync(file, 'utf8'), pem);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        assert.equal((await keys.signer()).keyId, rotated.keyId);
        assert.deepEqual(
          (await keys.list()).map((k) => [k.keyId, k.current, k.source]),
          [
            [rotated.keyId, true, 'file'],
            [first, false, 'file'],
          ],
        );
      } finally {
        await fresh.close();
      }
    });

    test('HOIST_SIGNING_KEY: read, listed, never rotated by hoist; another curve is refused', async () => {
      const fresh = await freshDatabase(backend);
      try {
        const file = join(dir, `env-${backend}.pem`);
        const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        writeFileSync(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
        const keys = new SigningKeys(fresh.db, box, { keyFile: file });
        const id = await keys.ensure();
        assert.equal((await keys.signer()).keyId, id);
        await assert.rejects(keys.rotate({ username: 'root', isAdmin: true }), /HOIST_SIGNING_KEY/);
        const p384 = join(dir, `p384-${backend}.pem`);
        const other = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
        writeFileSync(p384, other.privateKey.export({ type: 'pkcs8', format: 'pem' }));
        await assert.rejects(new SigningKeys(fresh.db, box, { keyFile: p384 }).ensure(), /ECDSA P-256/);
      } finally {
        await fresh.close();
      }
    });
  });
}
