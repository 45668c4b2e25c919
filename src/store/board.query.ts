/**
 * Loads the facts of a project's board (src/promotion/board.ts) in two queries, however many applications and
 * environments the project has. The first reads its environments and pipeline edges, its applications, what each
 * environment holds per application (environment_holdings, one row per cell kept by triggers, migration 0020: the
 * artifact that arrived last, with its quarantine), the bindings, and the targets not finished yet with their
 * approvals so far. The second finds the promotions that brought the held artifacts (the latest PROMOTED target of
 * each held artifact and environment).
 *
 * Why the second is separate: joined in SQL, the held artifacts (a CTE) against their requests gave the planner no
 * statistics to go by (PGlite never analyses; a fresh PostgreSQL table has none either), and it chose a nested loop
 * of cells × promotions: 2 s for 50 applications × 6 environments with 10 builds each. With the held cells as
 * constant lists, each cell is two index probes (see `arrivals`).
 */
import { sql, type Kysely } from 'kysely';
import type { BindingFacts, BoardFacts, HoldingFacts, PendingFacts } from '../promotion/board.ts';
import type { TargetState } from '../promotion/context.ts';
import { ENVIRONMENTS_JSON, environmentFacts } from './promotion-context.query.ts';
import type { Schema } from './schema.ts';

const parsed = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
const date = (v: string): Date => new Date(v);

interface BoardRow {
  name: string;
  environments: unknown;
  edges: unknown;
  applications: unknown;
  holdings: unknown;
  bindings: unknown;
  pending: unknown;
}

interface HoldingJson {
  applicationId: string;
  environmentId: string;
  digest: string;
  tag: string | null;
  since: string;
  created: string | null;
  registeredAt: string;
  registeredBy: string;
  artifactId: string;
  quarantine: { reason: string; by: string; at: string } | null;
}

type BindingJson = Omit<BindingFacts, 'updatedAt'> & { updatedAt: string };
type PendingJson = Omit<PendingFacts, 'requestedAt'> & { requestedAt: string };

/** The board's facts, or undefined when the project does not exist. */
export async function loadBoardFacts(db: Kysely<Schema>, project: string): Promise<BoardFacts | undefined> {
  const { rows } = await sql<BoardRow>`
    WITH p AS (SELECT id, name FROM projects WHERE name = ${project}),
    holdings AS (
      SELECT hold.application_id, hold.environment_id, x.id AS artifact_id, x.digest, l.tag, l.since, x.created,
        x.registered_at, x.registered_by
      FROM p JOIN applications a ON a.project_id = p.id
      JOIN environment_holdings hold ON hold.application_id = a.id
      JOIN artifacts x ON x.id = hold.artifact_id
      JOIN artifact_locations l ON l.artifact_id = hold.artifact_id AND l.environment_id = hold.environment_id
    )
    SELECT p.name,
      ${ENVIRONMENTS_JSON} AS environments,
      (SELECT coalesce(json_agg(json_build_object('from', f.name, 'to', t.name) ORDER BY f.position, t.position), '[]')
        FROM pipeline_edges pe JOIN environments f ON f.id = pe.from_env_id JOIN environments t ON t.id = pe.to_env_id
        WHERE pe.project_id = p.id) AS edges,
      (SELECT coalesce(json_agg(json_build_object('id', a.id, 'name', a.name) ORDER BY a.name), '[]')
        FROM applications a WHERE a.project_id = p.id) AS applications,
      (SELECT coalesce(json_agg(json_build_object(
          'applicationId', h.application_id, 'environmentId', h.environment_id, 'artifactId', h.artifact_id,
          'digest', h.digest, 'tag', h.tag,
          'since', h.since, 'created', h.created, 'registeredAt', h.registered_at, 'registeredBy', h.registered_by,
          'quarantine', CASE WHEN q.digest IS NULL THEN NULL
            ELSE json_build_object('reason', q.reason, 'by', q.by_user, 'at', q.at) END)), '[]')
        FROM holdings h
        LEFT JOIN quarantine q ON q.digest = h.digest) AS holdings,
      (SELECT coalesce(json_agg(json_build_object(
          'applicationId', b.application_id, 'environmentId', b.environment_id, 'mode', b.mode,
          'pinnedDigest', b.pinned_digest, 'updatedBy', b.updated_by, 'updatedAt', b.updated_at)), '[]')
        FROM bindings b JOIN applications a ON a.id = b.application_id WHERE a.project_id = p.id) AS bindings,
      (SELECT coalesce(json_agg(json_build_object(
          'applicationId', coalesce(i.application_id, r.application_id), 'environmentId', t.environment_id,
          'request', r.id, 'state', t.state, 'digest', coalesce(i.digest, r.digest),
          'tag', coalesce(t.tag, CASE WHEN i.request_id IS NULL THEN r.tag ELSE i.source_tag END),
          'requestedBy', r.requested_by, 'requestedAt', r.created_at, 'approvalsNeeded', t.approvals_needed,
          'release', rel.name,
          'approvalsHave', (SELECT count(*) FROM promotion_decisions d
            WHERE d.target_id = t.id AND d.decision = 'approve'))), '[]')
        FROM promotion_targets t JOIN promotion_requests r ON r.id = t.request_id
        -- A release's request is pending for each of its applications (migration 0021).
        LEFT JOIN release_request_items i ON i.request_id = r.id
        LEFT JOIN releases rel ON rel.id = r.release_id
        WHERE r.project_id = p.id AND t.state IN ('AWAITING_APPROVAL', 'QUEUED', 'PROMOTING')) AS pending
    FROM p`.execute(db);
  const r = rows[0];
  if (!r) return undefined;
  const held = parsed<HoldingJson[]>(r.holdings);
  const brought = await arrivals(db, held);
  return {
    project: r.name,
    environments: environmentFacts(r.environments),
    edges: parsed(r.edges),
    applications: parsed(r.applications),
    holdings: held.map((h): HoldingFacts => ({
      applicationId: h.applicationId,
      environmentId: h.environmentId,
      digest: h.digest,
      tag: h.tag,
      since: date(h.since),
      created: h.created === null ? null : date(h.created),
      registeredAt: date(h.registeredAt),
      registeredBy: h.registeredBy,
      request: requestOf(brought.get(`${h.artifactId} ${h.environmentId}`)),
      quarantine: h.quarantine ? { reason: h.quarantine.reason, by: h.quarantine.by, at: date(h.quarantine.at) } : null,
    })),
    bindings: parsed<BindingJson[]>(r.bindings).map((b) => ({ ...b, updatedAt: date(b.updatedAt) })),
    pending: parsed<PendingJson[]>(r.pending).map((t) => ({
      ...t,
      state: t.state as TargetState,
      approvalsHave: Number(t.approvalsHave),
      requestedAt: date(t.requestedAt),
    })),
  };
}

const requestOf = (r: { id: string; requestedBy: string; release?: string } | undefined) =>
  r ? { id: r.id, requestedBy: r.requestedBy, ...(r.release !== undefined ? { release: r.release } : {}) } : null;

/** Values as one comma-separated parameter (ids and digests hold no commas). */
const listOf = (values: readonly string[]): string => values.join(',');

/**
 * The request that brought each held artifact to its environment, by `artifactId environmentId`: per held cell, the
 * newest PROMOTED target of a request for that artifact into that environment. The cells arrive as three parallel
 * lists (one parameter each) and each is one probe of the requests' digest index and of the targets' (request,
 * environment) key, so the cost follows the board's size, not the history's, whatever the planner knows: with the
 * digests as a filter instead, the embedded database (no statistics) scanned every PROMOTED target of every project.
 */
async function arrivals(
  db: Kysely<Schema>,
  held: ReadonlyArray<{ artifactId: string; environmentId: string; digest: string }>,
): Promise<Map<string, { id: string; requestedBy: string; release?: string }>> {
  const brought = new Map<string, { id: string; requestedBy: string; release?: string }>();
  if (held.length === 0) return brought;
  // OFFSET 0 keeps each lateral a probe of its own: flattened, the planner without statistics started from every
  // PROMOTED target of the environment instead.
  // A release's request brought every application it carries (release_request_items, migration 0021); its first
  // application's is found twice, and the row that names the release comes first.
  const { rows } = await sql<{
    artifact_id: string;
    environment_id: string;
    id: string;
    requested_by: string;
    release: string | null;
  }>`
    SELECT DISTINCT ON (h.artifact_id, h.environment_id) h.artifact_id, h.environment_id, r.id, r.requested_by,
      r.release
    FROM unnest(
      string_to_array(${listOf(held.map((h) => h.artifactId))}, ','),
      string_to_array(${listOf(held.map((h) => h.environmentId))}, ','),
      string_to_array(${listOf(held.map((h) => h.digest))}, ',')
    ) AS h(artifact_id, environment_id, digest)
    CROSS JOIN LATERAL (
      SELECT id, requested_by, NULL::text AS release FROM promotion_requests
      WHERE digest = h.digest AND artifact_id = h.artifact_id
      UNION ALL
      SELECT q.id, q.requested_by, rel.name FROM release_request_items i
      JOIN promotion_requests q ON q.id = i.request_id JOIN releases rel ON rel.id = q.release_id
      WHERE i.digest = h.digest AND i.artifact_id = h.artifact_id
      OFFSET 0
    ) r
    CROSS JOIN LATERAL (
      SELECT id, updated_at FROM promotion_targets
      WHERE request_id = r.id AND environment_id = h.environment_id AND state = 'PROMOTED' OFFSET 0
    ) t
    ORDER BY h.artifact_id, h.environment_id, t.updated_at DESC, t.id DESC, r.release NULLS LAST`.execute(db);
  for (const row of rows)
    brought.set(`${row.artifact_id} ${row.environment_id}`, {
      id: row.id,
      requestedBy: row.requested_by,
      ...(row.release !== null ? { release: row.release } : {}),
    });
  return brought;
}
