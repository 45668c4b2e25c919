/**
 * Live events: what the event stream (`GET /api/v1/events/stream`) tells browsers about promotions. The database
 * writes them itself, with triggers on promotion_targets (a request's targets inserted; any target's state changed,
 * whoever changed it: a decision, a re-evaluation, the runner's claim, a lease taken over) and on
 * promotion_decisions (an approval or a rejection). So an event is in the same transaction as its change — never
 * shown for a change that rolled back, never missing for one that committed — and costs no extra round trip.
 *
 * The `bigserial` id is the stream's `Last-Event-ID`: one sequence for every replica. Ids must become visible in
 * order (a reader that saw 11 must not find 10 later), so a writer holds a transaction-scoped advisory lock from
 * taking its id until it commits. It is the audit chain's lock (src/store/audit.repository.ts, 72616001): every
 * transaction that changes a promotion appends to the audit chain too and serializes there anyway, and one lock
 * cannot be taken in two orders. The commit's `NOTIFY hoist_live_events` (delivered only if it commits) wakes the
 * streams of every replica. Rows older than a day, or beyond the newest 10 000, are pruned by writers, once every
 * 256 ids; a client away longer is told to reload.
 */
import { sql, type Kysely } from 'kysely';

const CONTEXT_JOINS = `
    JOIN promotion_requests r ON r.id = t.request_id
    JOIN projects p ON p.id = r.project_id
    JOIN applications a ON a.id = r.application_id
    JOIN environments s ON s.id = r.source_env_id
    JOIN environments e ON e.id = t.environment_id`;

const CONTEXT_FIELDS = `'requestId', r.id, 'project', p.name, 'application', a.name, 'digest', r.digest, 'from', s.name`;

const STATEMENTS = [
  `CREATE TABLE live_events (
    id bigserial PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    type text NOT NULL,
    data jsonb NOT NULL,
    at timestamptz NOT NULL
  )`,
  `CREATE INDEX live_events_project ON live_events (project_id, id)`,
  `CREATE INDEX live_events_at ON live_events (at)`,
  `CREATE FUNCTION live_events_written(newest bigint, written bigint) RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    IF newest IS NULL THEN RETURN; END IF;
    IF newest / 256 <> (newest - written) / 256 THEN
      DELETE FROM live_events WHERE at < now() - interval '1 day' OR id <= newest - 10000;
    END IF;
    PERFORM pg_notify('hoist_live_events', newest::text);
  END $$`,
  `CREATE FUNCTION live_events_requested() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE newest bigint; written bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(72616001);
    WITH ins AS (
      INSERT INTO live_events (project_id, type, data, at)
      SELECT r.project_id, 'promotion.requested', jsonb_strip_nulls(jsonb_build_object(${CONTEXT_FIELDS},
               'actor', r.requested_by, 'comment', NULLIF(r.comment, ''), 'states', jsonb_object_agg(e.name, t.state))),
             now()
      FROM new_targets t ${CONTEXT_JOINS}
      GROUP BY r.id, p.name, a.name, s.name
      ORDER BY r.id
      RETURNING id)
    SELECT max(id), count(*) INTO newest, written FROM ins;
    PERFORM live_events_written(newest, written);
    RETURN NULL;
  END $$`,
  `CREATE FUNCTION live_events_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE newest bigint; written bigint;
  BEGIN
    -- Lease renewals and other updates that leave the state alone say nothing (and take no lock).
    IF NOT EXISTS (SELECT 1 FROM new_targets n JOIN old_targets o ON o.id = n.id WHERE n.state IS DISTINCT FROM o.state)
    THEN RETURN NULL; END IF;
    PERFORM pg_advisory_xact_lock(72616001);
    WITH ins AS (
      INSERT INTO live_events (project_id, type, data, at)
      SELECT r.project_id, 'promotion.state', jsonb_strip_nulls(jsonb_build_object(${CONTEXT_FIELDS},
               'states', jsonb_object_agg(e.name, t.state), 'before', jsonb_object_agg(e.name, o.state),
               'reasons', jsonb_object_agg(e.name, t.reason))),
             now()
      FROM new_targets t JOIN old_targets o ON o.id = t.id AND t.state IS DISTINCT FROM o.state ${CONTEXT_JOINS}
      GROUP BY r.id, p.name, a.name, s.name
      ORDER BY r.id
      RETURNING id)
    SELECT max(id), count(*) INTO newest, written FROM ins;
    PERFORM live_events_written(newest, written);
    RETURN NULL;
  END $$`,
  `CREATE FUNCTION live_events_decided() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE newest bigint; written bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(72616001);
    WITH ins AS (
      INSERT INTO live_events (project_id, type, data, at)
      SELECT r.project_id, CASE WHEN d.decision = 'approve' THEN 'promotion.approved' ELSE 'promotion.rejected' END,
             jsonb_strip_nulls(jsonb_build_object(${CONTEXT_FIELDS}, 'actor', d.username,
               'comment', NULLIF(d.comment, ''), 'environments', jsonb_agg(e.name ORDER BY e.position))),
             now()
      FROM new_decisions d JOIN promotion_targets t ON t.id = d.target_id ${CONTEXT_JOINS}
      GROUP BY r.id, p.name, a.name, s.name, d.username, d.decision, d.comment
      ORDER BY r.id
      RETURNING id)
    SELECT max(id), count(*) INTO newest, written FROM ins;
    PERFORM live_events_written(newest, written);
    RETURN NULL;
  END $$`,
  `CREATE TRIGGER live_events_requested AFTER INSERT ON promotion_targets
    REFERENCING NEW TABLE AS new_targets FOR EACH STATEMENT EXECUTE FUNCTION live_events_requested()`,
  `CREATE TRIGGER live_events_state_changed AFTER UPDATE ON promotion_targets
    REFERENCING OLD TABLE AS old_targets NEW TABLE AS new_targets FOR EACH STATEMENT
    EXECUTE FUNCTION live_events_state_changed()`,
  `CREATE TRIGGER live_events_decided AFTER INSERT ON promotion_decisions
    REFERENCING NEW TABLE AS new_decisions FOR EACH STATEMENT EXECUTE FUNCTION live_events_decided()`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
