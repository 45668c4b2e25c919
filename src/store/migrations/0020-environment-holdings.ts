/**
 * What each environment holds now, per application: the artifact that arrived there last (the newest `since` among
 * its artifact_locations), one row per application and environment, kept by triggers on artifact_locations so that
 * every writer (the runner's promotion, a registration, a push event, a cascade delete) keeps it right in the same
 * transaction. The board (src/store/board.query.ts) reads it instead of sorting an environment's whole history:
 * artifact_locations keeps a row for every build that ever arrived, so the board cost grew with the history.
 *
 * An insert moves the row forward when the new location is at least as new (concurrent arrivals meet on the primary
 * key; the newer `since` wins whichever commits first). Deleting the held location (a promotion rewrites its
 * location; an artifact or environment is deleted) looks the newest remaining one up again, or drops the row.
 * No foreign keys: a cascade deletes the locations first and the triggers clean up after them.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE environment_holdings (
    application_id text NOT NULL,
    environment_id text NOT NULL,
    artifact_id text NOT NULL,
    since timestamptz NOT NULL,
    PRIMARY KEY (application_id, environment_id)
  )`,
  `CREATE INDEX environment_holdings_artifact ON environment_holdings (artifact_id)`,
  `CREATE FUNCTION environment_holdings_recompute(app text, env text) RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    DELETE FROM environment_holdings WHERE application_id = app AND environment_id = env;
    INSERT INTO environment_holdings (application_id, environment_id, artifact_id, since)
      SELECT x.application_id, l.environment_id, l.artifact_id, l.since
      FROM artifact_locations l JOIN artifacts x ON x.id = l.artifact_id
      WHERE x.application_id = app AND l.environment_id = env
      ORDER BY l.since DESC, l.artifact_id LIMIT 1;
  END $$`,
  `CREATE FUNCTION environment_holdings_arrived(artifact text, env text, at timestamptz) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO environment_holdings (application_id, environment_id, artifact_id, since)
      SELECT x.application_id, env, artifact, at FROM artifacts x WHERE x.id = artifact
    ON CONFLICT (application_id, environment_id) DO UPDATE
      SET artifact_id = EXCLUDED.artifact_id, since = EXCLUDED.since
      WHERE environment_holdings.since <= EXCLUDED.since;
  END $$`,
  `CREATE FUNCTION environment_holdings_left(artifact text, env text) RETURNS void LANGUAGE plpgsql AS $$
  DECLARE app text;
  BEGIN
    SELECT application_id INTO app FROM environment_holdings WHERE artifact_id = artifact AND environment_id = env;
    IF FOUND THEN PERFORM environment_holdings_recompute(app, env); END IF;
  END $$`,
  `CREATE FUNCTION environment_holdings_track() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN PERFORM environment_holdings_left(OLD.artifact_id, OLD.environment_id); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
      PERFORM environment_holdings_arrived(NEW.artifact_id, NEW.environment_id, NEW.since);
    END IF;
    RETURN NULL;
  END $$`,
  `CREATE TRIGGER environment_holdings_track AFTER INSERT OR DELETE OR UPDATE OF artifact_id, environment_id, since
    ON artifact_locations FOR EACH ROW EXECUTE FUNCTION environment_holdings_track()`,
  `INSERT INTO environment_holdings (application_id, environment_id, artifact_id, since)
    SELECT DISTINCT ON (x.application_id, l.environment_id) x.application_id, l.environment_id, l.artifact_id, l.since
    FROM artifact_locations l JOIN artifacts x ON x.id = l.artifact_id
    ORDER BY x.application_id, l.environment_id, l.since DESC, l.artifact_id`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
