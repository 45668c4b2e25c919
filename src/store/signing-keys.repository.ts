/**
 * The keys promotion attestations are signed with: the current one (retired_at null) and the retired ones, kept so
 * what they signed can still be checked. Changes of the current key take an advisory lock, so replicas starting at
 * once (each making sure there is a key) or a rotation racing a start still leave exactly one current key.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Schema } from './schema.ts';

/** Arbitrary constant naming the signing keys' advisory lock. */
const SIGNING_KEYS_LOCK = 72_616_023;

export interface SigningKeyRow {
  key_id: string;
  algorithm: string;
  public_key: string;
  private_key_sealed: string | null;
  source: 'file' | 'database';
  created_at: Date;
  retired_at: Date | null;
}

export async function listSigningKeys(db: Kysely<Schema>): Promise<SigningKeyRow[]> {
  return db
    .selectFrom('signing_keys')
    .selectAll()
    .orderBy(sql`retired_at IS NULL`, 'desc')
    .orderBy('created_at', 'desc')
    .execute();
}

export async function currentSigningKey(db: Kysely<Schema>): Promise<SigningKeyRow | undefined> {
  return db.selectFrom('signing_keys').selectAll().where('retired_at', 'is', null).executeTakeFirst();
}

/**
 * Runs `change` with the signing keys locked, in one transaction: it sees the current key (or none) and answers the
 * key to make current (undefined: keep it). The former current key is retired; a key seen before becomes current
 * again rather than a second row.
 */
export async function replaceCurrentKey(
  trx: Transaction<Schema>,
  change: (current: SigningKeyRow | undefined) => Omit<SigningKeyRow, 'retired_at'> | undefined,
  at: Date,
): Promise<{ key: SigningKeyRow; retired: SigningKeyRow | undefined }> {
  await sql`SELECT pg_advisory_xact_lock(${SIGNING_KEYS_LOCK})`.execute(trx);
  const current = await currentSigningKey(trx);
  const next = change(current);
  if (next === undefined || next.key_id === current?.key_id) {
    if (current) return { key: current, retired: undefined };
    throw new Error('no signing key to make current');
  }
  await trx.updateTable('signing_keys').set({ retired_at: at }).where('retired_at', 'is', null).execute();
  await trx
    .insertInto('signing_keys')
    .values({ ...next, retired_at: null })
    .onConflict((oc) =>
      oc.column('key_id').doUpdateSet({ retired_at: null, private_key_sealed: next.private_key_sealed }),
    )
    .execute();
  return { key: { ...next, retired_at: null }, retired: current };
}
