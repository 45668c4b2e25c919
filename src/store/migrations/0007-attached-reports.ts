/** What hoist read from an artifact's attached vulnerability report and SBOM (null when none is attached). */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [`ALTER TABLE artifacts ADD COLUMN scan jsonb`, `ALTER TABLE artifacts ADD COLUMN sbom jsonb`];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
