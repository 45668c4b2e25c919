/**
 * Indexes for reading at scale (issue 14; bench:scale): the newest requests of a project, the newest ended targets
 * (history, everywhere or per environment), and a digest's promotions (history by digest, the deploy gate). Without
 * them each first page sorted the project's whole history.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE INDEX promotion_requests_project_newest ON promotion_requests (project_id, created_at DESC, id DESC)`,
  `CREATE INDEX promotion_requests_digest ON promotion_requests (digest)`,
  `CREATE INDEX promotion_targets_newest ON promotion_targets (updated_at DESC, id DESC)`,
  `CREATE INDEX promotion_targets_environment_newest ON promotion_targets (environment_id, updated_at DESC, id DESC)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
