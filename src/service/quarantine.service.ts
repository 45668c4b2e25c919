/**
 * Quarantine: a digest found bad (a CVE, a leaked secret) is blocked from every further promotion in every project.
 * Putting it there rejects the promotions still open for it; the runner refuses it too if it was already queued.
 * Artifact views show it in every environment. Both putting and lifting are audited.
 */
import type { Kysely } from 'kysely';
import { Conflict, InvalidInput, NotFound } from '../errors.ts';
import {
  deleteQuarantine,
  findQuarantine,
  insertQuarantine,
  isQuarantined,
  listQuarantine,
  rejectTargetsOfDigest,
} from '../store/quarantine.repository.ts';
import { projectIdsNamed } from '../store/namespaces.repository.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import { parseSha256Digest } from '../oci/digest.ts';

export interface QuarantineView {
  digest: string;
  reason: string;
  by: string;
  at: string;
}

export class Quarantine {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Every quarantined digest for an admin (`visibleTo` undefined); else those of the named projects' artifacts. */
  async list(visibleTo?: readonly string[]): Promise<QuarantineView[]> {
    const projectIds = visibleTo === undefined ? undefined : await projectIdsNamed(this.db, visibleTo);
    const rows = await listQuarantine(this.db, projectIds);
    return rows.map((r) => ({ digest: r.digest, reason: r.reason, by: r.by_user, at: r.at.toISOString() }));
  }

  async add(actor: Actor, digest: string, reason: string): Promise<{ quarantine: QuarantineView; rejected: number }> {
    parseSha256Digest(digest, 'digest');
    if (reason.trim() === '') throw new InvalidInput('say why (--reason "CVE-2026-1234 in libfoo")', 'reason');
    if (await isQuarantined(this.db, digest)) throw new Conflict(`${digest} is quarantined already`);
    const now = new Date();
    const rejected = await audited(
      this.db,
      actor,
      { action: 'quarantine.add', objectType: 'digest', objectId: digest },
      async (trx) => {
        await insertQuarantine(trx, { digest, reason, byUser: actor.username, at: now });
        const n = await rejectTargetsOfDigest(trx, {
          digest,
          states: ['AWAITING_APPROVAL', 'QUEUED', 'FAILED'],
          reason: `quarantined by ${actor.username}: ${reason}`,
          at: now,
        });
        return { result: n, summary: { reason, rejectedTargets: n } };
      },
    );
    return { quarantine: { digest, reason, by: actor.username, at: now.toISOString() }, rejected };
  }

  async lift(actor: Actor, digest: string, comment = ''): Promise<void> {
    parseSha256Digest(digest, 'digest');
    const row = await findQuarantine(this.db, digest);
    if (!row) throw new NotFound('quarantined digest', digest);
    await audited(
      this.db,
      actor,
      { action: 'quarantine.lift', objectType: 'digest', objectId: digest },
      async (trx) => {
        await deleteQuarantine(trx, digest);
        return {
          result: undefined,
          summary: { before: { reason: row.reason, by: row.by_user, at: row.at.toISOString() }, comment },
        };
      },
    );
  }
}
