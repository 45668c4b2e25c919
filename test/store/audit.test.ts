/**
 * The audit chain on both backends: appends chain, filters and pages work, a rolled-back change leaves no audit row,
 * and editing, deleting or reordering rows directly in the table is caught by the verifier, which names the row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { appendAudit, listAudit, verifyAudit } from '../../src/store/audit.repository.ts';
import { forEachBackend } from '../helpers/backends.ts';

forEachBackend('audit log', (use) => {
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

  test('appends chain and verify', async () => {
    const first = await append(1);
    const second = await append(2, 'bob');
    assert.equal(second.prevHash, first.hash);
    await append(3);
    assert.deepEqual(await verifyAudit(use().db), {
      ok: true,
      rows: 3,
      head: (await listAudit(use().db, {})).at(-1)?.hash,
    });
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
});
