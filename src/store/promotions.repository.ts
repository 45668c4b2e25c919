/**
 * Writes and locks of promotion requests: a planned request with its targets in one statement, the firing key of
 * an automation, idempotency keys, the request lock that serializes decisions, the decision context read under it,
 * and target changes from a decision or re-evaluation plan. Every function takes the transaction it runs in.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Blocker } from '../promotion/blocked-by.ts';
import type { DecisionContext, DecisionTarget, TargetChange } from '../promotion/plan-decision.ts';
import { storableVariables } from '../promotion/variables.ts';
import { DECIDERS_JSON, POLICY_JSON, WEBHOOKS_JSON, deciderFacts, policyFacts } from './promotion-context.query.ts';
import type { Schema, TargetState } from './schema.ts';

export interface NewTarget {
  id: string;
  environmentId: string;
  state: TargetState;
  policy: { name: string; version: number } | null;
  approvalsNeeded: number;
  verdict: unknown;
  variables: Record<string, unknown>;
  reason: string | null;
  blockedBy: Blocker[];
  tag: string | null;
  windowOverride: boolean;
}

export interface NewRequest {
  id: string;
  projectId: string;
  applicationId: string;
  artifactId: string;
  digest: string;
  sourceEnvId: string;
  requestedBy: string;
  comment: string;
  /** The tag the request named, or the image's tag in the source environment. */
  tag: string | null;
  at: Date;
  targets: NewTarget[];
}

/** JSON text of blockers (CEL integers are bigints; they are stored as numbers). */
export const blockersJson = (b: readonly Blocker[]): string =>
  JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));

/** The request and its targets in one statement. */
export async function insertRequest(trx: Transaction<Schema>, r: NewRequest): Promise<void> {
  await trx
    .with('r', (db) =>
      db
        .insertInto('promotion_requests')
        .values({
          id: r.id,
          project_id: r.projectId,
          application_id: r.applicationId,
          artifact_id: r.artifactId,
          digest: r.digest,
          source_env_id: r.sourceEnvId,
          requested_by: r.requestedBy,
          comment: r.comment,
          tag: r.tag,
          created_at: r.at,
        })
        .returning('id'),
    )
    .insertInto('promotion_targets')
    .values(
      r.targets.map((t) => ({
        id: t.id,
        request_id: r.id,
        environment_id: t.environmentId,
        state: t.state,
        policy_name: t.policy?.name ?? null,
        policy_version: t.policy?.version ?? null,
        approvals_needed: t.approvalsNeeded,
        verdict: JSON.stringify(t.verdict),
        variables: storableVariables(t.variables),
        reason: t.reason,
        blocked_by: blockersJson(t.blockedBy),
        updated_at: r.at,
        tag: t.tag,
        window_override: t.windowOverride,
      })),
    )
    .execute();
}

/** Records an automation's firing; false when that key fired already (nothing may be requested then). */
export async function recordFiring(
  trx: Transaction<Schema>,
  f: { key: string; artifactId: string; requestId: string; at: Date },
): Promise<boolean> {
  const fired = await trx
    .insertInto('automation_firings')
    .values({ key: f.key, artifact_id: f.artifactId, request_id: f.requestId, at: f.at })
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return Number(fired.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/**
 * Claims an idempotency key for a request about to be made. Answers undefined when the key is new (it is now
 * taken, in this transaction), or the request and fingerprint it was first used with. A concurrent first use
 * waits here for the other transaction, then answers its request.
 */
export async function claimIdempotencyKey(
  trx: Transaction<Schema>,
  k: { username: string; key: string; fingerprint: string; requestId: string; at: Date },
): Promise<{ requestId: string; fingerprint: string } | undefined> {
  const inserted = await trx
    .insertInto('idempotency_keys')
    .values({
      username: k.username,
      key: k.key,
      fingerprint: k.fingerprint,
      request_id: k.requestId,
      created_at: k.at,
    })
    .onConflict((oc) => oc.columns(['username', 'key']).doNothing())
    .returning('request_id')
    .executeTakeFirst();
  if (inserted) return undefined;
  return findIdempotencyKey(trx, k.username, k.key);
}

export async function findIdempotencyKey(
  db: Kysely<Schema>,
  username: string,
  key: string,
): Promise<{ requestId: string; fingerprint: string } | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_id', 'fingerprint'])
    .where('username', '=', username)
    .where('key', '=', key)
    .executeTakeFirst();
  return row ? { requestId: row.request_id, fingerprint: row.fingerprint } : undefined;
}

/**
 * Locks a request of a project (`FOR UPDATE`) so that decisions on it are made one after the other; answers false
 * when there is no such request. Read the decision context after this, in the same transaction.
 */
export async function lockRequest(trx: Transaction<Schema>, project: string, requestId: string): Promise<boolean> {
  const row = await trx
    .selectFrom('promotion_requests as r')
    .innerJoin('projects as p', 'p.id', 'r.project_id')
    .select('r.id')
    .where('r.id', '=', requestId)
    .where('p.name', '=', project)
    .forUpdate('r')
    .executeTakeFirst();
  return row !== undefined;
}

interface DecisionRow {
  id: string;
  requested_by: string;
  digest: string;
  from: string;
  application: string;
  project_id: string;
  project_name: string;
  build: unknown;
  targets: unknown;
  deciders: unknown;
  webhooks: unknown;
}

type TargetJson = Omit<DecisionTarget, 'policy' | 'decisions'> & {
  policy: unknown;
  decisions: Array<{ username: string; decision: 'approve' | 'reject'; at: string }>;
};

const parsed = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/** What a decision on a request is planned from (read after `lockRequest`), with the project's webhooks. */
export async function loadDecisionContext(
  trx: Transaction<Schema>,
  requestId: string,
): Promise<(DecisionContext & { webhooks: Array<{ id: string; events: string[] | null }> }) | undefined> {
  const { rows } = await sql<DecisionRow>`
    SELECT r.id, r.requested_by, r.digest, s.name AS "from", a.name AS application, p.id AS project_id,
      p.name AS project_name, x.build,
      (SELECT coalesce(json_agg(json_build_object(
          'id', t.id, 'environment', e.name, 'state', t.state, 'approvalsNeeded', t.approvals_needed,
          'blockedBy', t.blocked_by,
          'policy', (SELECT ${POLICY_JSON} FROM policies po JOIN policy_versions v ON v.policy_id = po.id
            WHERE po.name = t.policy_name AND v.version = t.policy_version),
          'decisions', (SELECT coalesce(json_agg(json_build_object(
              'username', d.username, 'decision', d.decision, 'at', d.at) ORDER BY d.at), '[]')
            FROM promotion_decisions d WHERE d.target_id = t.id)) ORDER BY e.position), '[]')
        FROM promotion_targets t JOIN environments e ON e.id = t.environment_id WHERE t.request_id = r.id) AS targets,
      ${DECIDERS_JSON} AS deciders,
      ${WEBHOOKS_JSON} AS webhooks
    FROM promotion_requests r
    JOIN projects p ON p.id = r.project_id
    JOIN applications a ON a.id = r.application_id
    JOIN environments s ON s.id = r.source_env_id
    JOIN artifacts x ON x.id = r.artifact_id
    WHERE r.id = ${requestId}`.execute(trx);
  const r = rows[0];
  if (!r) return undefined;
  return {
    request: { id: r.id, requestedBy: r.requested_by, digest: r.digest, from: r.from, application: r.application },
    project: { id: r.project_id, name: r.project_name },
    builder: parsed<{ builder?: string }>(r.build).builder,
    targets: parsed<TargetJson[]>(r.targets).map((t) => ({
      ...t,
      blockedBy: parsed<Blocker[] | null>(t.blockedBy),
      policy: t.policy === null ? null : policyFacts(t.policy),
      decisions: t.decisions.map((d) => ({ ...d, at: new Date(d.at) })),
    })),
    deciders: deciderFacts(r.deciders),
    webhooks: parsed<Array<{ id: string; events: unknown }>>(r.webhooks).map((w) => ({
      id: w.id,
      events: parsed<string[] | null>(w.events),
    })),
  };
}

/** Writes a decision plan's target changes: the decision rows in one statement, then each target's new state. */
export async function applyTargetChanges(
  trx: Transaction<Schema>,
  changes: readonly TargetChange[],
  by: { username: string; comment: string; at: Date },
): Promise<void> {
  const decisions = changes.filter((c) => c.decision !== null);
  if (decisions.length > 0)
    await trx
      .insertInto('promotion_decisions')
      .values(
        decisions.map((c) => ({
          target_id: c.targetId,
          username: by.username,
          decision: c.decision as 'approve' | 'reject',
          comment: by.comment,
          at: by.at,
        })),
      )
      .execute();
  for (const c of changes)
    await trx
      .updateTable('promotion_targets')
      .set({
        state: c.state,
        updated_at: by.at,
        blocked_by: blockersJson(c.blockedBy),
        ...(c.reason !== null ? { reason: c.reason } : {}),
      })
      .where('id', '=', c.targetId)
      // The runner may have claimed a queued target meanwhile: a change applies only to the state it was planned from.
      .where('state', '=', c.before)
      .execute();
}
