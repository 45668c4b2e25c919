/**
 * Identity changes: the server keeps who a credential belongs to for a few seconds (src/api/identity-cache.ts), so a
 * GET does not ask the database on every request. Whatever changes that answer tells every replica at once: a
 * statement that revokes, expires or deletes a token, ends or changes a session, changes or disables a user, changes a
 * membership, or renames or deletes a project (memberships name projects) sends `NOTIFY hoist_identity` — delivered on
 * commit, to every replica's LISTEN (PostgreSQL) or the embedded database's listeners, whoever made the change (any
 * replica, the CLI, SQL by hand). A token's last-use time, written once a minute, changes nothing and sends nothing.
 * Statement-level triggers: one notification per statement, however many rows (PostgreSQL folds repeats in a
 * transaction into one).
 */
import { sql, type Kysely } from 'kysely';

export const IDENTITY_CHANNEL = 'hoist_identity';

const STATEMENTS = [
  `CREATE FUNCTION identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('${IDENTITY_CHANNEL}', '');
    RETURN NULL;
  END $$`,
  `CREATE TRIGGER identity_changed AFTER UPDATE OF user_id, token_hash, expires_at, revoked_at OR DELETE OR TRUNCATE
    ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION identity_changed()`,
  `CREATE TRIGGER identity_changed AFTER UPDATE OR DELETE OR TRUNCATE
    ON sessions FOR EACH STATEMENT EXECUTE FUNCTION identity_changed()`,
  `CREATE TRIGGER identity_changed AFTER UPDATE OF id, username, is_admin, disabled OR DELETE OR TRUNCATE
    ON users FOR EACH STATEMENT EXECUTE FUNCTION identity_changed()`,
  `CREATE TRIGGER identity_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON memberships FOR EACH STATEMENT EXECUTE FUNCTION identity_changed()`,
  `CREATE TRIGGER identity_changed AFTER UPDATE OF id, name OR DELETE OR TRUNCATE
    ON projects FOR EACH STATEMENT EXECUTE FUNCTION identity_changed()`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
