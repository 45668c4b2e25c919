/**
 * The promotion attestations' jobs (migration 0027): one per image a target promoted, queued in the transaction that
 * records the target PROMOTED, worked by the leased queue. What an attestation records is read here for one job (the
 * policy version the image passed, the approvals, the audit entry that decided it, the verified evidence of the
 * artifact, the attestation of the hop that brought the image into the source environment), and the attestation
 * itself is kept on the job under its fencing token so every attempt pushes the same bytes.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Claim, JobTableSpec } from './jobs.repository.ts';
import { settleJob } from './jobs.repository.ts';
import { sealAll } from './audit.repository.ts';
import type { RegistryAccess } from './registries.repository.ts';
import type { AttestationState, Schema, StoredAttestation } from './schema.ts';
import type { TrustResult } from '../trust/verify.ts';

type Db = Kysely<Schema> | Transaction<Schema>;

export const ATTESTATION_JOBS: JobTableSpec<'attestation_jobs'> = {
  table: 'attestation_jobs',
  waiting: 'PENDING',
  working: 'ATTACHING',
  orderBy: 'run_after',
  message: 'last_error',
  failingSince: 'failing_since',
};

const CHANNEL = `hoist_queue_${ATTESTATION_JOBS.table}`;

export interface AttestationImage {
  applicationId: string;
  artifactId: string;
  digest: string;
  /** At the target, {app} replaced. */
  repository: string;
  tag: string | null;
}

/**
 * Queues the attestation of every image a target promoted, in the caller's transaction (the one recording PROMOTED:
 * both or neither). Idempotent: a target's image is queued once however many workers recorded it.
 */
export async function enqueueAttestations(
  trx: Transaction<Schema>,
  targetId: string,
  images: readonly AttestationImage[],
  at: Date,
): Promise<void> {
  if (images.length === 0) return;
  // The jobs and the wake-up of every replica's workers (delivered at commit) in one statement; none when every
  // image was queued already. Any conflict, not only (target_id, application_id)'s: the id is made of the same two,
  // and two transactions inserting it at once would otherwise fail on the primary key (PostgreSQL checks the arbiter
  // index named in ON CONFLICT only).
  const rows = images.map(
    (i) =>
      sql`(${`att-${targetId}-${i.applicationId}`}, ${targetId}, ${i.applicationId}, ${i.artifactId}, ${i.digest}, ${i.repository}, ${i.tag}, 'PENDING', ${at}, ${at})`,
  );
  await sql`WITH queued AS (
      INSERT INTO attestation_jobs
        (id, target_id, application_id, artifact_id, digest, repository, tag, state, run_after, created_at)
      VALUES ${sql.join(rows)}
      ON CONFLICT DO NOTHING
      RETURNING 1)
    SELECT pg_notify(${CHANNEL}, '') FROM (SELECT 1 FROM queued LIMIT 1) AS any_queued`.execute(trx);
}

/** Everything one attestation job needs: the image, the promotion it belongs to, where it came from and went. */
export async function loadAttestationJob(db: Db, id: string) {
  return db
    .selectFrom('attestation_jobs as j')
    .innerJoin('promotion_targets as t', 't.id', 'j.target_id')
    .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
    .innerJoin('applications as a', 'a.id', 'j.application_id')
    .innerJoin('projects as p', 'p.id', 'r.project_id')
    .innerJoin('environments as s', 's.id', 'r.source_env_id')
    .innerJoin('environments as e', 'e.id', 't.environment_id')
    .innerJoin('registries as sreg', 'sreg.id', 's.registry_id')
    .innerJoin('registries as dreg', 'dreg.id', 'e.registry_id')
    .leftJoin('releases as rel', 'rel.id', 'r.release_id')
    .select([
      'j.id',
      'j.target_id as targetId',
      'j.application_id as applicationId',
      'j.artifact_id as artifactId',
      'j.digest',
      'j.repository',
      'j.tag',
      'r.id as requestId',
      'r.created_at as requestedAt',
      'r.requested_by as requestedBy',
      'r.comment',
      'r.source_env_id as sourceEnvId',
      'a.name as app',
      'p.name as project',
      's.name as srcName',
      's.repository_template as srcRepo',
      'sreg.name as srcRegistry',
      'e.name as dstName',
      'dreg.name as dstRegistry',
      'rel.name as release',
      // The registries' rows, for their clients (Registries.openRow): not read again per job.
      'sreg.id as srcRegistryId',
      'sreg.url as srcRegistryUrl',
      'sreg.insecure as srcRegistryInsecure',
      'sreg.username as srcRegistryUsername',
      'sreg.secret_enc as srcRegistrySecret',
      'sreg.updated_at as srcRegistryUpdatedAt',
      'dreg.id as dstRegistryId',
      'dreg.url as dstRegistryUrl',
      'dreg.insecure as dstRegistryInsecure',
      'dreg.username as dstRegistryUsername',
      'dreg.secret_enc as dstRegistrySecret',
      'dreg.updated_at as dstRegistryUpdatedAt',
      // The attestation an earlier attempt kept, if any (storedOf): every attempt pushes the same bytes.
      'j.key_id as storedKeyId',
      'j.manifest_digest as storedManifestDigest',
      'j.statement_digest as storedStatementDigest',
      'j.content as storedContent',
    ])
    .where('j.id', '=', id)
    .executeTakeFirstOrThrow();
}

export type AttestationJobRow = Awaited<ReturnType<typeof loadAttestationJob>>;

/** The source's or the target's registry row as the job read it (for Registries.openRow). */
export function attestationRegistry(j: AttestationJobRow, side: 'src' | 'dst'): RegistryAccess {
  return side === 'src'
    ? {
        id: j.srcRegistryId,
        name: j.srcRegistry,
        url: j.srcRegistryUrl,
        insecure: j.srcRegistryInsecure,
        username: j.srcRegistryUsername,
        secret_enc: j.srcRegistrySecret,
        updated_at: j.srcRegistryUpdatedAt,
      }
    : {
        id: j.dstRegistryId,
        name: j.dstRegistry,
        url: j.dstRegistryUrl,
        insecure: j.dstRegistryInsecure,
        username: j.dstRegistryUsername,
        secret_enc: j.dstRegistrySecret,
        updated_at: j.dstRegistryUpdatedAt,
      };
}

/** A release's images in the target as the attestation names them: every application, its digest and tag. */
export async function releaseImagesOf(db: Db, targetId: string) {
  return db
    .selectFrom('attestation_jobs as j')
    .innerJoin('applications as a', 'a.id', 'j.application_id')
    .select(['a.name as application', 'j.digest', 'j.tag'])
    .where('j.target_id', '=', targetId)
    .orderBy('a.name')
    .execute();
}

/** Something the attestation names is not final yet: not a failure, try again shortly. */
export class AttestationNotReady extends Error {
  override name = 'AttestationNotReady';
}

/** The hop into the source environment was hoist's, but its attestation is not signed yet. */
export class PreviousHopPending extends AttestationNotReady {
  constructor(environment: string) {
    super(`waiting for the attestation of the hop into ${environment} to be signed first (it names it as previous)`);
  }
}

export async function attestationFacts(db: Db, j: AttestationJobRow) {
  // One statement (it was six, each a round trip through the embedded database's thread): the policy version in force
  // on the target (a release's, per application, else the target's), the approvals, the request's last decision (not
  // what the runner and its follow-ups recorded after it ran), the artifact's evidence, and the hop that brought this
  // digest of this application into the source environment, if hoist made it (a single promotion's or a release's).
  const r = await sql<{
    policy: {
      name: string;
      version: number;
      description: string;
      pass_conditions: string[];
      fail_conditions: string[];
      approver_count: number;
      allow_requester_from_approve: boolean;
      allow_image_builder_from_approve: boolean;
      allow_approver_from_deploy: boolean;
      allow_skip_stages: boolean;
    } | null;
    approvals: Array<{ username: string; at: string; comment: string | null }>;
    audit: { seq: string | number; hash: string | null } | null;
    artifact: { trust: TrustResult | null; repository: string; url: string } | null;
    previous: { statement_digest: string | null; state: AttestationState } | null;
  }>`SELECT
      (SELECT row_to_json(x) FROM (
          SELECT p.name, v.version, v.description, v.pass_conditions, v.fail_conditions, v.approver_count,
            v.allow_requester_from_approve, v.allow_image_builder_from_approve, v.allow_approver_from_deploy,
            v.allow_skip_stages
          FROM policies p JOIN policy_versions v ON v.policy_id = p.id
          WHERE p.name = coalesce(rp.policy_name, t.policy_name)
            AND v.version = coalesce(rp.policy_version, t.policy_version)) x) AS policy,
      (SELECT coalesce(json_agg(json_build_object('username', d.username, 'at', d.at, 'comment', d.comment)
          ORDER BY d.at), '[]'::json)
        FROM promotion_decisions d WHERE d.target_id = t.id AND d.decision = 'approve') AS approvals,
      (SELECT json_build_object('seq', l.seq::text, 'hash', l.hash) FROM audit_log l
        WHERE l.object_type = 'promotion' AND l.object_id = ${j.requestId}
          AND l.action NOT IN ('promotion.promoted', 'promotion.failed', 'promotion.gitops')
        ORDER BY l.seq DESC LIMIT 1) AS audit,
      (SELECT json_build_object('trust', a.trust, 'repository', a.repository, 'url', g.url)
        FROM artifacts a JOIN registries g ON g.id = a.registry_id WHERE a.id = ${j.artifactId}) AS artifact,
      (SELECT json_build_object('statement_digest', pj.statement_digest, 'state', pj.state)
        FROM attestation_jobs pj JOIN promotion_targets pt ON pt.id = pj.target_id
        WHERE pj.application_id = ${j.applicationId} AND pj.digest = ${j.digest}
          AND pt.environment_id = ${j.sourceEnvId} AND pt.state = 'PROMOTED' AND pj.state != 'FAILED'
        ORDER BY pt.updated_at DESC LIMIT 1) AS previous
    FROM promotion_targets t
    LEFT JOIN release_target_policies rp ON rp.target_id = t.id AND rp.application_id = ${j.applicationId}
    WHERE t.id = ${j.targetId}`.execute(db);
  const row = r.rows[0];
  if (!row) throw new Error(`promotion target ${j.targetId} not found`);
  const policy = row.policy ?? undefined;
  const approvals = row.approvals.map((a) => ({ username: a.username, at: new Date(a.at), comment: a.comment }));
  const audit = row.audit ?? undefined;
  const artifact = row.artifact ?? undefined;
  const previous = row.previous;
  if (previous && previous.statement_digest === null) throw new PreviousHopPending(j.srcName);
  return {
    policy,
    approvals,
    audit: await sealedEntry(db, audit),
    artifact,
    previous: previous?.statement_digest ?? null,
  };
}

/**
 * The request's decision entry with its hash: entries are chained shortly after commit (src/store/audit.repository.ts),
 * so one not chained yet is sealed here (the attestation names the hash, never an older entry's).
 */
async function sealedEntry(
  db: Db,
  entry: { seq: string | number; hash: string | null } | undefined,
): Promise<{ seq: string | number; hash: string } | undefined> {
  if (entry === undefined) return undefined;
  if (entry.hash !== null) return { seq: entry.seq, hash: entry.hash };
  await sealAll(db);
  const now = await db.selectFrom('audit_log').select('hash').where('seq', '=', String(entry.seq)).executeTakeFirst();
  if (!now?.hash) throw new AttestationNotReady(`the audit entry ${entry.seq} of the request is not chained yet`);
  return { seq: entry.seq, hash: now.hash };
}

export type AttestationFactsRow = Awaited<ReturnType<typeof attestationFacts>>;

/**
 * Keeps the attestation on the job unless one is kept already, and only while `job` still holds it (ATTACHING, its
 * fencing token): a worker that lost its claim stores nothing. Answers the kept one, or undefined when the claim is
 * gone.
 */
export async function keepAttestation(
  db: Db,
  job: Claim,
  a: { keyId: string; manifestDigest: string; statementDigest: string; content: StoredAttestation; at: Date },
) {
  // One statement: kept by this attempt (the claim holds and none was kept before), or the one an earlier attempt
  // kept while the claim still holds; no row when the claim is lost.
  const r = await sql<{
    key_id: string | null;
    manifest_digest: string | null;
    statement_digest: string | null;
    content: unknown;
  }>`WITH kept AS (
      UPDATE attestation_jobs SET key_id = ${a.keyId}, manifest_digest = ${a.manifestDigest},
        statement_digest = ${a.statementDigest}, content = ${JSON.stringify(a.content)}::jsonb, signed_at = ${a.at}
      WHERE id = ${job.id} AND state = 'ATTACHING' AND lease_token = ${job.token} AND content IS NULL
      RETURNING key_id, manifest_digest, statement_digest, content)
    SELECT key_id, manifest_digest, statement_digest, content FROM kept
    UNION ALL
    SELECT key_id, manifest_digest, statement_digest, content FROM attestation_jobs
      WHERE id = ${job.id} AND state = 'ATTACHING' AND lease_token = ${job.token} AND content IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM kept)`.execute(db);
  return stored(r.rows[0]);
}

function stored(
  row:
    | { key_id: string | null; manifest_digest: string | null; statement_digest: string | null; content: unknown }
    | undefined,
) {
  if (!row?.content || !row.key_id || !row.manifest_digest || !row.statement_digest) return undefined;
  return {
    key_id: row.key_id,
    manifest_digest: row.manifest_digest,
    statement_digest: row.statement_digest,
    content: row.content as StoredAttestation,
  };
}

/** The attestation an earlier attempt kept, as the job was loaded (undefined: none yet). */
export function storedOf(j: AttestationJobRow) {
  return stored({
    key_id: j.storedKeyId,
    manifest_digest: j.storedManifestDigest,
    statement_digest: j.storedStatementDigest,
    content: j.storedContent,
  });
}

/** ATTACHED (fenced by the claim). */
export async function recordAttached(db: Db, job: Claim, at: Date): Promise<void> {
  await settleJob(db, ATTESTATION_JOBS, job, { state: 'ATTACHED', attached_at: at, last_error: null });
}

/** FAILED for good, with why (fenced by the claim). */
export async function recordAttachFailed(db: Db, job: Claim, reason: string): Promise<void> {
  await settleJob(db, ATTESTATION_JOBS, job, { state: 'FAILED', last_error: reason });
}

export interface AttestationStatus {
  environment: string;
  application: string;
  digest: string;
  repository: string;
  state: 'attached' | 'pending' | 'failed';
  /** Why it is pending (the last failure before a retry) or failed; null when attached or not tried yet. */
  reason: string | null;
  attempts: number;
  manifest: string | null;
  attachedAt: Date | null;
}

const stateOf = (s: AttestationState): AttestationStatus['state'] =>
  s === 'ATTACHED' ? 'attached' : s === 'FAILED' ? 'failed' : 'pending';

/** The attestation jobs of an artifact's digest, newest target first (what `artifact show` lists per environment). */
export async function attestationStatusOf(db: Db, artifactId: string): Promise<AttestationStatus[]> {
  const rows = await db
    .selectFrom('attestation_jobs as j')
    .innerJoin('promotion_targets as t', 't.id', 'j.target_id')
    .innerJoin('environments as e', 'e.id', 't.environment_id')
    .innerJoin('applications as a', 'a.id', 'j.application_id')
    .select([
      'e.name as environment',
      'a.name as application',
      'j.digest',
      'j.repository',
      'j.state',
      'j.last_error',
      'j.attempts',
      'j.manifest_digest',
      'j.attached_at',
    ])
    .where('j.artifact_id', '=', artifactId)
    .orderBy('j.created_at', 'desc')
    .execute();
  return rows.map((r) => ({
    environment: r.environment,
    application: r.application,
    digest: r.digest,
    repository: r.repository,
    state: stateOf(r.state),
    reason: r.last_error,
    attempts: Number(r.attempts),
    manifest: r.manifest_digest,
    attachedAt: r.attached_at ? new Date(r.attached_at) : null,
  }));
}

/**
 * Where the digest was last promoted into the environment (a single promotion's image or a release's), with the
 * state of its attestation there (for the deploy gate).
 */
export async function lastPromotedInto(db: Db, o: { project: string; environment: string; digest: string }) {
  return db
    .selectFrom('attestation_jobs as j')
    .innerJoin('promotion_targets as t', 't.id', 'j.target_id')
    .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
    .innerJoin('projects as p', 'p.id', 'r.project_id')
    .innerJoin('environments as e', 'e.id', 't.environment_id')
    .innerJoin('registries as g', 'g.id', 'e.registry_id')
    .select(['j.repository', 'g.name as registry', 'j.state', 'j.last_error', 'j.attempts'])
    .where('p.name', '=', o.project)
    .where('e.name', '=', o.environment)
    .where('j.digest', '=', o.digest)
    .where('t.state', '=', 'PROMOTED')
    .orderBy('t.updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}
