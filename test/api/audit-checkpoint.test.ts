/**
 * Signed audit checkpoints through the API on both backends: the latest checkpoint is published with the public key
 * that verifies it, verification checks the chain against the stored checkpoint (a file outside the table) or one
 * given by an auditor, and deleting the newest rows, deleting every row, or rebuilding the chain with the product's
 * own hash function is caught. A tampered or foreign checkpoint is refused, a tampered chain is never blessed by a
 * newer checkpoint, and the cadence signs new checkpoints while entries arrive.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { BACKENDS } from '../helpers/backends.ts';
import { startApi, type TestApi } from '../helpers/api.ts';
import { AuditSigningKey } from '../../src/service/audit-signing-key.ts';
import { AuditCheckpoints, checkpointMessage, type AuditCheckpoint } from '../../src/service/audit-checkpoints.ts';
import { auditHash, listAudit } from '../../src/store/audit.repository.ts';

for (const backend of BACKENDS) {
  void describe(`audit checkpoints [${backend}]`, () => {
    let api: TestApi;
    let dir: string;
    let file: string;
    let headers: Record<string, string>;
    const errors: string[] = [];
    const verifyChain = async (checkpoint?: unknown) =>
      (
        await api.app.inject({
          method: 'POST',
          url: '/api/v1/audit/verify',
          headers,
          ...(checkpoint === undefined ? {} : { payload: { checkpoint } }),
        })
      ).json();
    const createUser = async (username: string) =>
      assert.equal(
        (
          await api.app.inject({
            method: 'POST',
            url: '/api/v1/users',
            headers,
            payload: { username, password: 'long-enough' },
          })
        ).statusCode,
        201,
      );

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'hoist-checkpoint-'));
      file = join(dir, 'audit-checkpoint.json');
      api = await startApi(backend, {
        audit: {
          key: AuditSigningKey.generate(),
          file,
          everyMs: 200,
          log: { info: () => undefined, error: (_o, m) => errors.push(m) },
        },
      });
      headers = { authorization: `Bearer ${await api.tokenFor('root', { admin: true })}` };
    });
    after(async () => {
      await api?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('the latest checkpoint is published, kept in a 0600 file, and verifies with the published key', async () => {
      const none = await api.app.inject({ url: '/api/v1/audit/checkpoint', headers });
      assert.equal(none.json().checkpoint, null);
      await createUser('cp-user1');
      const taken = await api.services.auditCheckpoints.take();
      assert.ok(taken);
      const published = (await api.app.inject({ url: '/api/v1/audit/checkpoint', headers })).json() as {
        checkpoint: AuditCheckpoint;
        publicKey: string;
      };
      assert.deepEqual(published.checkpoint, taken);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), taken);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const head = (await listAudit(api.database.db, { limit: 1000 })).at(-1)!;
      assert.deepEqual([taken.seq, taken.head], [head.seq, head.hash]);
      // An external system checks the signature with nothing but the published key.
      assert.ok(
        verify(
          null,
          Buffer.from(checkpointMessage(taken)),
          createPublicKey(published.publicKey),
          Buffer.from(taken.signature, 'base64'),
        ),
      );
      const v = await verifyChain();
      assert.equal(v.ok, true);
      assert.equal(v.checkpoint.seq, taken.seq);
      assert.equal(v.checkpoint.source, 'stored');
    });

    test('deleting the newest rows is caught against the stored checkpoint, and no newer checkpoint blesses it', async () => {
      await createUser('cp-user2');
      const checkpoint = (await api.services.auditCheckpoints.take())!;
      const saved = (await listAudit(api.database.db, { limit: 1000 })).at(-1)!;
      await sql`DELETE FROM audit_log WHERE seq = ${saved.seq}`.execute(api.database.db);
      const v = await verifyChain();
      assert.equal(v.ok, false);
      assert.equal(v.problem, 'truncated');
      assert.equal(v.seq, checkpoint.seq);
      await createUser('cp-user3'); // new rows follow the truncated chain
      assert.equal(await api.services.auditCheckpoints.take(), undefined, 'a truncated chain is not signed');
      assert.match(errors.at(-1) ?? '', /not signing a new checkpoint/);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), checkpoint, 'the evidence stays');
      assert.equal((await verifyChain()).ok, false);
    });

    test("a rebuilt chain and a wiped log are caught against an auditor's copy; tampered and foreign checkpoints are refused", async () => {
      const db = api.database.db;
      // Start from a clean chain the auditor holds a checkpoint of.
      await sql`DELETE FROM audit_log`.execute(db);
      rmSync(file);
      const fresh = new AuditCheckpoints(db, AuditSigningKey.generate());
      await createUser('cp-user4');
      await createUser('cp-user5');
      const auditorsCopy = (await fresh.take())!;
      assert.equal((await fresh.verify(auditorsCopy)).ok, true);

      // Rewrite the first row and recompute every later hash with the product's own function.
      let prev = '0'.repeat(64);
      for (const [i, r] of (await listAudit(db, { limit: 1000 })).entries()) {
        const actor = i === 0 ? 'mallory' : r.actor;
        const hash = auditHash(prev, r.seq, { ...r, actor });
        await sql`UPDATE audit_log SET actor = ${actor}, prev_hash = ${prev}, hash = ${hash} WHERE seq = ${r.seq}`.execute(
          db,
        );
        prev = hash;
      }
      const rebuilt = await fresh.verify(auditorsCopy);
      assert.equal(rebuilt.ok, false);
      if (!rebuilt.ok) assert.equal(rebuilt.problem, 'rewritten');

      await sql`DELETE FROM audit_log`.execute(db);
      const wiped = await fresh.verify(auditorsCopy);
      assert.equal(wiped.ok, false);
      if (!wiped.ok) assert.equal(wiped.problem, 'truncated');

      const altered = await fresh.verify({ ...auditorsCopy, seq: '1' });
      assert.equal(altered.ok, false);
      if (!altered.ok) assert.equal(altered.problem, 'bad-checkpoint');
      // The API server has another key: it refuses a checkpoint it did not sign.
      const foreign = await verifyChain(auditorsCopy);
      assert.equal(foreign.ok, false);
      assert.equal(foreign.problem, 'bad-checkpoint');
      assert.match(foreign.message, /not by this server's audit key/);
      assert.equal((await verifyChain({ seq: 'x' })).error?.code, 'VALIDATION_FAILED');
    });

    test('the cadence signs a checkpoint when entries arrive', async () => {
      const db = api.database.db;
      await sql`DELETE FROM audit_log`.execute(db);
      rmSync(file, { force: true });
      const cadence = new AuditCheckpoints(db, AuditSigningKey.generate(), { everyMs: 100, everyEntries: 1000 });
      cadence.start();
      try {
        await createUser('cp-user6');
        const head = (await listAudit(db, { limit: 1000 })).at(-1)!;
        for (let i = 0; i < 100 && cadence.latest()?.seq !== head.seq; i++) await new Promise((r) => setTimeout(r, 50));
        assert.equal(cadence.latest()?.seq, head.seq);
        assert.equal((await cadence.verify()).ok, true);
      } finally {
        await cadence.stop();
      }
    });
  });
}
