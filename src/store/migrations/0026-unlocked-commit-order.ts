/**
 * Promotions of different environments and applications no longer wait for each other in the database. Until now
 * every promotion state change took one global advisory lock (72616001) and held it until commit: the live-events
 * triggers (migration 0018) to make event ids visible in id order, and the audit chain to append in order. With two
 * replicas, a request's insert waited 817 ms for it (pg_stat_statements, `npm run bench:replicas`).
 *
 * Both now take their numbers from plain sequences, without a lock, and readers decide what is safe to read:
 *
 * - A writer draws its number (`hoist_draw_ids`, after making sure its transaction has an id), then inserts the row
 *   in a subtransaction: the row's `xmin` is that subtransaction's id, assigned after the draw, so it is greater than
 *   the transaction id of anyone who drew a smaller number (ids are handed out in time order, and every writer has its
 *   id before it draws). A row is **settled** once no transaction with a smaller id is running, i.e. its `xmin`
 *   precedes the reader's `pg_snapshot_xmin(pg_current_snapshot())` (`hoist_unsettled`): from then on nothing can
 *   commit with a smaller number. A reader takes rows in number order and stops at the first unsettled one (a row in
 *   flight always has a visible unsettled row after it, or it will be the newest), so no committed row is ever passed
 *   over, and ids still become readable in order. (The snapshot's `xmax` cannot serve as the horizon: it is the last
 *   completed id + 1, not the next id to be assigned.) Readers use the raw `xmin` only for rows never updated after
 *   they are written (live events; audit rows until they are sealed), within 2^31 transactions of their writing.
 * - The audit chain is **sealed** after commit: a row is inserted with no hashes (`audit_append`, one statement, no
 *   lock), and one short sealing transaction (src/store/audit.repository.ts `sealAudit`, the only holder of the
 *   advisory lock now) chains the settled rows in sequence order. Reads of the chain (list, verify, head,
 *   checkpoints) seal first. An unsealed row is never skipped: sealing goes in order, and verification fails on an
 *   unsealed row.
 * - `environment_holdings` (migration 0020) is kept by a deferred constraint trigger: the row of an (application,
 *   environment) is written, and locked, at commit, not from the location's write until commit. Two arrivals in the
 *   same cell still meet there (newest `since` wins, a real invariant); arrivals in other cells never do.
 *
 * PGlite has one connection and runs one transaction at a time: every row is settled when it is read there.
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
  // Numbers drawn after the caller's transaction has its id (see above).
  `CREATE FUNCTION hoist_draw_ids(seq regclass, n integer) RETURNS bigint[] LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    PERFORM pg_current_xact_id();
    RETURN ARRAY(SELECT nextval(seq) FROM generate_series(1, n));
  END $$`,
  // Whether a row written by (sub)transaction `written` may still have a transaction with a smaller number before
  // it (see above), in the calling statement's snapshot; 32-bit ids compared within 2^31 of each other.
  `CREATE FUNCTION hoist_unsettled(written xid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT ((written::text::bigint - pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296
      + 4294967296) % 4294967296) < 2147483648 $$`,
  `CREATE OR REPLACE FUNCTION live_events_requested() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE newest bigint; written bigint; ids bigint[];
  BEGIN
    ids := hoist_draw_ids('live_events_id_seq', (SELECT count(DISTINCT request_id)::integer FROM new_targets));
    BEGIN -- a subtransaction: the rows' xmin is assigned after the draw
    WITH ins AS (
      INSERT INTO live_events (id, project_id, type, data, at)
      SELECT ids[row_number() OVER (ORDER BY r.id)], r.project_id, 'promotion.requested',
             jsonb_strip_nulls(jsonb_build_object(${CONTEXT_FIELDS},
               'actor', r.requested_by, 'comment', NULLIF(r.comment, ''), 'states', jsonb_object_agg(e.name, t.state))),
             now()
      FROM new_targets t ${CONTEXT_JOINS}
      GROUP BY r.id, p.name, a.name, s.name
      RETURNING id)
    SELECT max(id), count(*) INTO newest, written FROM ins;
    EXCEPTION WHEN OTHERS THEN RAISE;
    END;
    PERFORM live_events_written(newest, written);
    RETURN NULL;
  END $$`,
  `CREATE OR REPLACE FUNCTION live_events_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE newest bigint; written bigint; changed integer; ids bigint[];
  BEGIN
    -- Lease renewals and other updates that leave the state alone say nothing.
    SELECT count(DISTINCT nt.request_id) INTO changed
      FROM new_targets nt JOIN old_targets ot ON ot.id = nt.id WHERE nt.state IS DISTINCT FROM ot.state;
    IF changed = 0 THEN RETURN NULL; END IF;
    ids := hoist_draw_ids('live_events_id_seq', changed);
    BEGIN -- a subtransaction: the rows' xmin is assigned after the draw
    WITH ins AS (
      INSERT INTO live_events (id, project_id, type, data, at)
      SELECT ids[row_number() OVER (ORDER BY r.id)], r.project_id, 'promotion.state',
             jsonb_strip_nulls(jsonb_build_object(${CONTEXT_FIELDS},
               'states', jsonb_object_agg(e.name, t.state), 'before', jsonb_object_agg(e.name, o.state),
               'reasons', jsonb_object_agg(e.name, t.reason))),
             now()
      FROM new_targets t JOIN old_targets o ON o.id = t.id AND t.state IS DISTINCT FROM o.state ${CONTEXT_JOINS}
      GROUP BY r.id, p.name, a.name, s.name
      RETURNING id)
    SELECT max(id), count(*) INTO newest, written FROM ins;
    EXCEPTION WHEN OTHERS THEN RAISE;
    END;
    PERFORM live_events_written(newest, written);
    RETURN NULL;
  END $$`,
  `CREATE OR REPLACE FUNCTION live_events_decided() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE newest bigint; written bigint; ids bigint[];
  BEGIN
    ids := hoist_draw_ids('live_events_id_seq', (SELECT count(*)::integer FROM (
      SELECT 1 FROM new_decisions d JOIN promotion_targets t ON t.id = d.target_id
      GROUP BY t.request_id, d.username, d.decision, d.comment) g));
    BEGIN -- a subtransaction: the rows' xmin is assigned after the draw
    WITH ins AS (
      INSERT INTO live_events (id, project_id, type, data, at)
      SELECT ids[row_number() OVER (ORDER BY r.id, d.username, d.decision, d.comment)], r.project_id,
             CASE WHEN d.decision = 'approve' THEN 'promotion.approved' ELSE 'promotion.rejected' END,
             jsonb_strip_nulls(jsonb_build_object(${CONTEXT_FIELDS}, 'actor', d.username,
               'comment', NULLIF(d.comment, ''), 'environments', jsonb_agg(e.name ORDER BY e.position))),
             now()
      FROM new_decisions d JOIN promotion_targets t ON t.id = d.target_id ${CONTEXT_JOINS}
      GROUP BY r.id, p.name, a.name, s.name, d.username, d.decision, d.comment
      RETURNING id)
    SELECT max(id), count(*) INTO newest, written FROM ins;
    EXCEPTION WHEN OTHERS THEN RAISE;
    END;
    PERFORM live_events_written(newest, written);
    RETURN NULL;
  END $$`,
  // The audit chain: rows arrive unsealed (no hashes) and are chained after commit, in sequence order.
  `ALTER TABLE audit_log ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL`,
  `CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE hash IS NULL`,
  `CREATE FUNCTION audit_append(p_at timestamptz, p_actor text, p_action text, p_object_type text,
    p_object_id text, p_summary jsonb, p_request_id text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
  DECLARE drawn bigint;
  BEGIN
    drawn := (hoist_draw_ids(pg_get_serial_sequence('audit_log', 'seq')::regclass, 1))[1];
    BEGIN -- a subtransaction: the row's xmin is assigned after the draw
      INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, summary, request_id)
        VALUES (drawn, p_at, p_actor, p_action, p_object_type, p_object_id, p_summary, p_request_id);
    EXCEPTION WHEN OTHERS THEN RAISE;
    END;
    PERFORM pg_notify('hoist_audit_appended', '');
    RETURN drawn;
  END $$`,
  // What each environment holds: written at commit (see above).
  `DROP TRIGGER environment_holdings_track ON artifact_locations`,
  `CREATE CONSTRAINT TRIGGER environment_holdings_track
    AFTER INSERT OR DELETE OR UPDATE OF artifact_id, environment_id, since ON artifact_locations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION environment_holdings_track()`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
