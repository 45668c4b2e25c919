/**
 * The audit chain on both backends: appends chain, filters and pages work, a rolled-back change leaves no audit row,
 * and editing, deleting or reordering rows directly in the table is caught by the verifier, which names the row.
 * Against a checkpoint (a row's sequence number and hash kept elsewhere), deleting the newest rows, deleting every
 * row, and rewriting a row with every later hash recomputed by auditHash itself are caught too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import {
  appendAudit,
  auditHash,
  auditHead,
  listAudit,
  sealAudit,
  verifyAudit,
} from '../../src/store/audit.repository.ts';
import pg from 'pg';
import { liveEventBounds } from '../../src/store/live-events.repository.ts';
import { forEachBackend, freshPostgres } from '../helpers/backends.ts';

forEachBackend('audit log', (use, backend) => {
  const append = (n: number, actor = 'alice') =>
    use()
      .db.transaction()
      .execute((trx) =>
        appendAudit(trx, {
          actor,
          action: 'project.create',
          objectType: 'project',
          objectId: `p${n}`,
          summary: { after: { name: `p${n}`, n } },
          requestId: `req-${n}`,
        }),
      );

  test('appends chain (sealed after commit) and verify', async () => {
    const first = await append(1);
    const second = await append(2, 'bob');
    const third = await append(3);
    assert.ok(BigInt(first) < BigInt(second) && BigInt(second) < BigInt(third));
    // Unsealed until something seals: every read of the chain does.
    const rows = await listAudit(use().db, {});
    assert.deepEqual(
      rows.map((r) => r.seq),
      [first, second, third],
    );
    assert.equal(rows[1]?.prevHash, rows[0]?.hash);
    assert.equal(rows[2]?.prevHash, rows[1]?.hash);
    assert.deepEqual(await verifyAudit(use().db), { ok: true, rows: 3, head: rows[2]?.hash, headSeq: third });
  });

  test('list filters by actor, object and time, and pages by cursor', async () => {
    const db = use().db;
    assert.deepEqual(
      (await listAudit(db, { actor: 'bob' })).map((r) => r.objectId),
      ['p2'],
    );
    assert.deepEqual(
      (await listAudit(db, { objectType: 'project', objectId: 'p3' })).map((r) => r.requestId),
      ['req-3'],
    );
    const page1 = await listAudit(db, { limit: 2 });
    const page2 = await listAudit(db, { limit: 2, after: page1.at(-1)?.seq });
    assert.deepEqual(
      [...page1, ...page2].map((r) => r.objectId),
      ['p1', 'p2', 'p3'],
    );
    assert.equal((await listAudit(db, { since: new Date(Date.now() + 60_000) })).length, 0);
    assert.deepEqual(page1[0]?.summary, { after: { name: 'p1', n: 1 } });
  });

  test('a change that rolls back leaves no audit row', async () => {
    const db = use().db;
    const before = (await listAudit(db, {})).length;
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await appendAudit(trx, { actor: 'alice', action: 'x', objectType: 'project', objectId: 'gone', summary: {} });
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    assert.equal((await listAudit(db, {})).length, before);
    assert.equal((await verifyAudit(db)).ok, true, 'a skipped sequence number does not break the chain');
  });

  test('an edited row is named', async () => {
    const db = use().db;
    await append(4);
    const rows = await listAudit(db, {});
    const victim = rows[1]!;
    await sql`UPDATE audit_log SET actor = 'mallory' WHERE seq = ${victim.seq}`.execute(db);
    assert.deepEqual(await verifyAudit(db), {
      ok: false,
      rows: 1,
      seq: victim.seq,
      problem: 'edited',
      message: `row ${victim.seq} was edited: its content no longer matches its hash`,
    });
    await sql`UPDATE audit_log SET actor = ${victim.actor} WHERE seq = ${victim.seq}`.execute(db);
    assert.equal((await verifyAudit(db)).ok, true);
  });

  test('a summary edit, a deleted row and reordered rows are caught', async () => {
    const db = use().db;
    const rows = await listAudit(db, {});
    await sql`UPDATE audit_log SET summary = '{"after":{"name":"p1","n":2}}'::jsonb WHERE seq = ${rows[0]!.seq}`.execute(
      db,
    );
    assert.equal((await verifyAudit(db)).ok, false);
    await sql`UPDATE audit_log SET summary = ${JSON.stringify(rows[0]!.summary)}::jsonb WHERE seq = ${rows[0]!.seq}`.execute(
      db,
    );

    // Swap two rows' sequence numbers (a reorder).
    await sql`UPDATE audit_log SET seq = -1 WHERE seq = ${rows[1]!.seq}`.execute(db);
    await sql`UPDATE audit_log SET seq = ${rows[1]!.seq} WHERE seq = ${rows[2]!.seq}`.execute(db);
    await sql`UPDATE audit_log SET seq = ${rows[2]!.seq} WHERE seq = -1`.execute(db);
    const reordered = await verifyAudit(db);
    assert.equal(reordered.ok, false);
    if (!reordered.ok) assert.equal(reordered.seq, rows[1]!.seq);

    await sql`DELETE FROM audit_log WHERE seq IN (${rows[1]!.seq}, ${rows[2]!.seq})`.execute(db);
    const deleted = await verifyAudit(db);
    assert.equal(deleted.ok, false);
    if (!deleted.ok) {
      assert.equal(deleted.problem, 'deleted-or-reordered');
      assert.equal(deleted.seq, rows[3]!.seq);
    }
  });
  test('against a checkpoint: deleting the newest rows, every row, or rebuilding the chain is caught', async () => {
    const db = use().db;
    await sql`DELETE FROM audit_log`.execute(db);
    for (let n = 10; n < 16; n++) await append(n);
    const checkpoint = await auditHead(db);
    assert.equal((await verifyAudit(db, { anchor: checkpoint })).ok, true);
    await append(16);
    assert.equal((await verifyAudit(db, { anchor: checkpoint })).ok, true, 'rows after the checkpoint are fine');

    // Truncation: the newest rows go, including the checkpointed one. The chain alone still verifies.
    const rows = await listAudit(db, {});
    await sql`DELETE FROM audit_log WHERE seq >= ${rows[4]!.seq}`.execute(db);
    assert.equal((await verifyAudit(db)).ok, true, 'the chain alone cannot tell');
    const truncated = await verifyAudit(db, { anchor: checkpoint });
    assert.equal(truncated.ok, false);
    if (!truncated.ok) {
      assert.equal(truncated.problem, 'truncated');
      assert.equal(truncated.seq, checkpoint.seq);
      assert.match(truncated.message, new RegExp(`ends at row ${rows[3]!.seq}`));
    }

    // Rebuild: put the rows back, then rewrite an early row and recompute every later hash with auditHash.
    for (const r of rows.slice(4)) {
      await sql`INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, summary, request_id, prev_hash, hash)
        VALUES (${r.seq}, ${r.at}, ${r.actor}, ${r.action}, ${r.objectType}, ${r.objectId}, ${JSON.stringify(r.summary)}::jsonb, ${r.requestId}, ${r.prevHash}, ${r.hash})`.execute(
        db,
      );
    }
    assert.equal((await verifyAudit(db, { anchor: checkpoint })).ok, true, 'restored exactly');
    let prev = rows[0]!.prevHash;
    for (const [i, r] of rows.entries()) {
      const actor = i === 1 ? 'mallory' : r.actor;
      const hash = auditHash(prev, r.seq, { ...r, actor });
      await sql`UPDATE audit_log SET actor = ${actor}, prev_hash = ${prev}, hash = ${hash} WHERE seq = ${r.seq}`.execute(
        db,
      );
      prev = hash;
    }
    assert.equal((await verifyAudit(db)).ok, true, 'the rebuilt chain verifies alone');
    const rebuilt = await verifyAudit(db, { anchor: checkpoint });
    assert.equal(rebuilt.ok, false);
    if (!rebuilt.ok) {
      assert.equal(rebuilt.problem, 'rewritten');
      assert.equal(rebuilt.seq, checkpoint.seq);
    }

    // Wipe: every row deleted.
    await sql`DELETE FROM audit_log`.execute(db);
    assert.deepEqual(await verifyAudit(db), { ok: true, rows: 0, head: '0'.repeat(64), headSeq: '0' });
    const wiped = await verifyAudit(db, { anchor: checkpoint });
    assert.equal(wiped.ok, false);
    if (!wiped.ok) assert.equal(wiped.problem, 'truncated');
  });

  test('verifying from an earlier checkpoint checks only what came after, and that the checkpointed row is unchanged', async () => {
    const db = use().db;
    for (let n = 20; n < 23; n++) await append(n);
    const from = await auditHead(db);
    await append(23);
    const head = await auditHead(db);
    assert.deepEqual(await verifyAudit(db, { from }), { ok: true, rows: 1, head: head.head, headSeq: head.seq });
    await sql`UPDATE audit_log SET hash = ${'f'.repeat(64)} WHERE seq = ${from.seq}`.execute(db);
    const v = await verifyAudit(db, { from });
    assert.equal(v.ok, false);
    if (!v.ok) assert.equal(v.problem, 'rewritten');
  });
  test('concurrent appends (second actors) seal into one chain that verifies', async () => {
    const db = use().db;
    await sql`DELETE FROM audit_log`.execute(db);
    const seqs = await Promise.all(Array.from({ length: 12 }, (_, i) => append(100 + i, i % 2 ? 'bob' : 'alice')));
    const v = await verifyAudit(db);
    assert.equal(v.ok, true, JSON.stringify(v));
    const listed = new Set((await listAudit(db, { limit: 1000 })).map((r) => r.seq));
    for (const seq of seqs) assert.ok(listed.has(seq), `row ${seq} sealed and listed`);
  });

  // PostgreSQL only: PGlite runs one transaction at a time, so numbers always commit in order there (no case to test).
  if (backend === 'postgres')
    test('a row committed before a smaller sequence number is held unsealed until that transaction ends; never skipped', async () => {
      const db = use().db;
      await sql`DELETE FROM audit_log`.execute(db);
      let releaseFirst!: () => void;
      const firstMayCommit = new Promise<void>((resolve) => (releaseFirst = resolve));
      let firstAppended!: (seq: string) => void;
      const firstSeq = new Promise<string>((resolve) => (firstAppended = resolve));
      const first = db.transaction().execute(async (trx) => {
        const seq = await appendAudit(trx, {
          actor: 'slow',
          action: 'x',
          objectType: 'o',
          objectId: 'slow',
          summary: {},
        });
        firstAppended(seq);
        await firstMayCommit;
        return seq;
      });
      const smaller = await firstSeq;
      const later = await append(200, 'fast');
      assert.ok(BigInt(smaller) < BigInt(later));
      // The later row is committed, the earlier is not: sealing must stop before both.
      assert.deepEqual(await sealAudit(db), { sealed: 0, held: true });
      assert.ok(!(await listAudit(db, { actor: 'fast' })).some((r) => r.seq === later), 'not sealed past a gap');
      releaseFirst();
      await first;
      const rows = await listAudit(db, { order: 'newest', limit: 2 });
      assert.deepEqual(rows.map((r) => r.seq).reverse(), [smaller, later]);
      assert.equal(rows[0]?.prevHash, rows[1]?.hash, 'chained in sequence order');
      assert.equal((await verifyAudit(db)).ok, true);
    });

  // PostgreSQL only: a shared server. A writing transaction in another database cannot commit rows here, so it holds
  // nothing back (migration 0030); before, the server-wide horizon left these rows unsealed and verification failed.
  if (backend === 'postgres')
    test('a writing transaction in another database on the same server holds back neither sealing nor live events', async () => {
      const db = use().db;
      await sql`DELETE FROM audit_log`.execute(db);
      const elsewhere = new pg.Client({ connectionString: await freshPostgres() });
      await elsewhere.connect();
      try {
        await elsewhere.query('BEGIN');
        await elsewhere.query('SELECT pg_current_xact_id()'); // it has a transaction id, older than ours below
        const seq = await append(400, 'here');
        await sql`INSERT INTO projects (id, name, description, created_at, updated_at)
          VALUES ('id-horizon', 'horizon', '', now(), now())`.execute(db);
        await sql`INSERT INTO live_events (project_id, type, data, at)
          VALUES ('id-horizon', 'promotion.state', '{}'::jsonb, now())`.execute(db);
        const { rows } = await sql<{ max: string }>`SELECT max(id)::text AS max FROM live_events`.execute(db);
        assert.deepEqual(await sealAudit(db), { sealed: 1, held: false });
        assert.equal((await verifyAudit(db)).ok, true);
        assert.ok((await listAudit(db, { actor: 'here' })).some((r) => r.seq === seq));
        assert.equal((await liveEventBounds(db)).latest, Number(rows[0]?.max));
      } finally {
        await elsewhere.end();
      }
    });

  test('a row whose seal was removed fails verification (never passed over)', async () => {
    const db = use().db;
    await sql`DELETE FROM audit_log`.execute(db);
    await append(300);
    await append(301);
    const [victim] = await listAudit(db, {}); // seals both
    assert.ok(victim);
    await sql`UPDATE audit_log SET hash = NULL, prev_hash = NULL WHERE seq = ${victim.seq}`.execute(db);
    const v = await verifyAudit(db);
    assert.equal(v.ok, false);
    if (!v.ok) {
      assert.equal(v.problem, 'unsealed');
      assert.equal(v.seq, victim.seq);
    }
    await sql`UPDATE audit_log SET hash = ${victim.hash}, prev_hash = ${victim.prevHash} WHERE seq = ${victim.seq}`.execute(
      db,
    );
    assert.equal((await verifyAudit(db)).ok, true);
  });
});
