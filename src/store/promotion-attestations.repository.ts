/**
 * What a promotion attestation records, read for one claimed target (the policy version it passed, the approvals,
 * the audit entry that decided it, the verified evidence of the artifact, the attestation of the hop that brought the
 * image into the source environment), and the attestation itself, stored once per target under the claim's fencing
 * token so every attempt pushes the same bytes.
 */
import { sql, type Kysely } from 'kysely';
import type { Claim } from './jobs.repository.ts';
import { targetsInContext } from './promotion-targets.query.ts';
import type { Schema, StoredAttestation } from './schema.ts';

export async function attestationFacts(
  db: Kysely<Schema>,
  o: { targetId: string; requestId: string; artifactId: string; applicationId: string },
) {
  const target = await db
    .selectFrom('promotion_targets as t')
    .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
    .select(['t.policy_name', 't.policy_version', 'r.source_env_id', 'r.digest'])
    .where('t.id', '=', o.targetId)
    .executeTakeFirstOrThrow();
  // Independent reads: at once (PostgreSQL runs them on several connections).
  const policyQuery =
    target.policy_name === null || target.policy_version === null
      ? undefined
      : db
          .selectFrom('policies as p')
          .innerJoin('policy_versions as v', 'v.policy_id', 'p.id')
          .select([
            'p.name',
            'v.version',
            'v.description',
            'v.pass_conditions',
            'v.fail_conditions',
            'v.approver_count',
            'v.allow_requester_from_approve',
            'v.allow_image_builder_from_approve',
            'v.allow_approver_from_deploy',
            'v.allow_skip_stages',
          ])
          .where('p.name', '=', target.policy_name)
          .where('v.version', '=', target.policy_version)
          .executeTakeFirst();
  const approvalsQuery = db
    .selectFrom('promotion_decisions')
    .select(['username', 'at', 'comment'])
    .where('target_id', '=', o.targetId)
    .where('decision', '=', 'approve')
    .orderBy('at')
    .execute();
  const auditQuery = db
    .selectFrom('audit_log')
    .select(['seq', 'hash'])
    // The newest sealed entry (rows are chained shortly after commit, src/store/audit.repository.ts).
    .where('hash', 'is not', null)
    .where('object_type', '=', 'promotion')
    .where('object_id', '=', o.requestId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  const artifactQuery = db
    .selectFrom('artifacts as a')
    .innerJoin('registries as g', 'g.id', 'a.registry_id')
    .select(['a.trust', 'a.repository', 'g.url'])
    .where('a.id', '=', o.artifactId)
    .executeTakeFirst();
  // The hop that brought this digest of this application into the source environment, if hoist made it.
  const previousQuery = db
    .selectFrom('promotion_attestations as pa')
    .innerJoin('promotion_targets as t', 't.id', 'pa.target_id')
    .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
    .select(['pa.statement_digest'])
    .where('r.application_id', '=', o.applicationId)
    .where('r.digest', '=', target.digest)
    .where('t.environment_id', '=', target.source_env_id)
    .where('t.state', '=', 'PROMOTED')
    .orderBy('t.updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  const [policy, approvals, audit, artifact, previous] = await Promise.all([
    policyQuery,
    approvalsQuery,
    auditQuery,
    artifactQuery,
    previousQuery,
  ]);
  return { policy, approvals, audit, artifact, previous: previous?.statement_digest ?? null };
}

export type AttestationFactsRow = Awaited<ReturnType<typeof attestationFacts>>;

export async function storedAttestation(db: Kysely<Schema>, targetId: string) {
  return db.selectFrom('promotion_attestations').selectAll().where('target_id', '=', targetId).executeTakeFirst();
}

/**
 * Keeps the attestation for the target unless one is kept already, and only while `job` still holds the target
 * (state PROMOTING, its fencing token): a worker that lost its claim stores nothing. Answers the kept one, or
 * undefined when the claim is gone.
 */
export async function keepAttestation(
  db: Kysely<Schema>,
  job: Claim,
  a: { keyId: string; manifestDigest: string; statementDigest: string; content: StoredAttestation; at: Date },
) {
  await sql`
    INSERT INTO promotion_attestations (target_id, key_id, manifest_digest, statement_digest, content, created_at)
    SELECT ${job.id}, ${a.keyId}, ${a.manifestDigest}, ${a.statementDigest}, ${JSON.stringify(a.content)}::jsonb, ${a.at}
    WHERE EXISTS (
      SELECT 1 FROM promotion_targets WHERE id = ${job.id} AND state = 'PROMOTING' AND lease_token = ${job.token}
    )
    ON CONFLICT (target_id) DO NOTHING`.execute(db);
  return storedAttestation(db, job.id);
}

/** Where the digest was last promoted into the environment (for the deploy gate to read its attestations there). */
export async function lastPromotedInto(
  db: Kysely<Schema>,
  o: { project: string; environment: string; digest: string },
) {
  return targetsInContext(db)
    .innerJoin('registries as g', 'g.id', 'e.registry_id')
    .select(['a.name as app', 'e.repository_template as repository', 'g.name as registry'])
    .where('p.name', '=', o.project)
    .where('e.name', '=', o.environment)
    .where('r.digest', '=', o.digest)
    .where('t.state', '=', 'PROMOTED')
    .orderBy('t.updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}
