/**
 * Which automation firings happened already (`rule:<id>:<artifact>`, `latest:<app>:<env>:<artifact>`): the
 * automation skips a rule that fired for an artifact before it loads what judging the rule needs. Only a shortcut:
 * the firing key written in the request's transaction is still what makes a firing happen once.
 */
import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

export async function firedKeys(db: Kysely<Schema>, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db.selectFrom('automation_firings').select('key').where('key', 'in', keys).execute();
  return new Set(rows.map((r) => r.key));
}
