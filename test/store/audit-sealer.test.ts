/**
 * The background audit sealer on both databases: the first commit after a quiet spell is sealed at once (after its
 * short delay), and while commits keep coming it seals at most once per `spacingMs`, each seal taking every row
 * committed since; nothing is left unsealed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, RootOperationNode } from 'kysely';
import { appendAudit } from '../../src/store/audit.repository.ts';
import type { Notifier } from '../../src/store/notifier.ts';
import { AuditSealer } from '../../src/service/audit-sealer.ts';
import { forEachBackend } from '../helpers/backends.ts';

/** Counts the sealer's transactions: each one begins by trying the chain's lock. */
class SealCounter implements KyselyPlugin {
  seals = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const fragments = (args.node as unknown as { sqlFragments?: readonly string[] }).sqlFragments ?? [];
    if (fragments.join('?').includes('pg_try_advisory_xact_lock')) this.seals++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): ReturnType<KyselyPlugin['transformResult']> {
    return args.result;
  }
}

/** No replica but this one: the test wakes the sealer itself, as a commit's NOTIFY would. */
const quiet: Notifier = {
  publish: async () => {},
  subscribe: async () => async () => {},
  listening: () => true,
  close: async () => {},
};

forEachBackend('audit sealer', (use) => {
  test('seals a lone commit at once, and a stream of commits at most once per spacing', async () => {
    const database = use();
    const counter = new SealCounter();
    const sealer = new AuditSealer(database.db.withPlugin(counter), quiet, { spacingMs: 100 });
    let n = 0;
    const append = () =>
      database.db.transaction().execute((trx) =>
        appendAudit(trx, {
          actor: 'alice',
          action: 'project.create',
          objectType: 'project',
          objectId: `p${++n}`,
          summary: { n },
        }),
      );
    const unsealed = async () =>
      (await database.db.selectFrom('audit_log').select('seq').where('hash', 'is', null).execute()).length;
    const sealed = async (what: string) => {
      for (let i = 0; i < 200 && (await unsealed()) > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await unsealed(), 0, what);
    };
    await sealer.start();
    try {
      await sealed('what was there at start is sealed');
      await new Promise((r) => setTimeout(r, 150));
      const before = counter.seals;
      const t0 = Date.now();
      await append();
      sealer.wake();
      await sealed('the lone commit is sealed');
      assert.ok(Date.now() - t0 < 1000, `sealed after ${Date.now() - t0} ms`);
      assert.equal(counter.seals - before, 1, 'one seal for one commit');

      // 30 commits over ~300 ms, each waking the sealer.
      const start = counter.seals;
      const began = Date.now();
      for (let i = 0; i < 30; i++) {
        await append();
        sealer.wake();
        await new Promise((r) => setTimeout(r, 10));
      }
      await sealed('every commit of the stream is sealed');
      const seals = counter.seals - start;
      const spanMs = Date.now() - began;
      assert.ok(seals >= 1, 'the stream was sealed');
      assert.ok(seals <= Math.ceil(spanMs / 100) + 1, `${seals} seals in ${spanMs} ms, spaced 100 ms at least`);
    } finally {
      await sealer.stop();
    }
  });
});
