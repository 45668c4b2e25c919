/** Runs a change and its audit entry in one transaction: both commit, or neither does. */
import type { Kysely, Transaction } from 'kysely';
import { appendAudit, type AuditEntry } from '../store/audit.repository.ts';
import type { Schema } from '../store/schema.ts';

export interface Actor {
  username: string;
  requestId?: string | null;
  /** Admins may change what protects an environment (its location, its protection, its policy bindings). */
  isAdmin?: boolean;
}

export async function audited<T>(
  db: Kysely<Schema>,
  actor: Actor,
  what: { action: string; objectType: string; objectId: string },
  change: (trx: Transaction<Schema>) => Promise<{ result: T; summary: Record<string, unknown> }>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    const { result, summary } = await change(trx);
    const entry: AuditEntry = { actor: actor.username, ...what, summary, requestId: actor.requestId ?? null };
    await appendAudit(trx, entry);
    return result;
  });
}
