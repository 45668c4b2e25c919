/**
 * Trust roots (a project's named public keys) and what was verified with them: the evidence and verdict kept with
 * each artifact, and the project's artifacts to judge again when its roots change.
 */
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Schema } from './schema.ts';
import type { Evidence, TrustResult } from '../trust/verify.ts';

export type TrustRootRow = Selectable<Schema['trust_roots']>;

/** The project's trust roots by name. */
export async function listTrustRoots(db: Kysely<Schema>, projectId: string): Promise<TrustRootRow[]> {
  return db.selectFrom('trust_roots').selectAll().where('project_id', '=', projectId).orderBy('name').execute();
}

export async function findTrustRoot(
  db: Kysely<Schema>,
  projectId: string,
  name: string,
): Promise<TrustRootRow | undefined> {
  return db
    .selectFrom('trust_roots')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
}

/** Adds the root, or replaces the key of the one with this name. */
export async function putTrustRoot(db: Kysely<Schema>, row: Insertable<Schema['trust_roots']>): Promise<void> {
  await db
    .insertInto('trust_roots')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['project_id', 'name']).doUpdateSet({
        algorithm: row.algorithm,
        fingerprint: row.fingerprint,
        public_key: row.public_key ?? null,
        sigstore: row.sigstore ?? null,
        trusted_root: row.trusted_root ?? null,
        created_by: row.created_by,
        created_at: row.created_at,
      }),
    )
    .execute();
}

/** Removes a root; answers whether there was one. */
export async function deleteTrustRoot(db: Kysely<Schema>, projectId: string, name: string): Promise<boolean> {
  const r = await db
    .deleteFrom('trust_roots')
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Records what was read of an artifact's signatures and the verdict on it. */
export async function setArtifactTrust(
  db: Kysely<Schema>,
  artifactId: string,
  evidence: readonly Evidence[],
  trust: TrustResult,
): Promise<void> {
  await db
    .updateTable('artifacts')
    .set({ signature_evidence: JSON.stringify(evidence), trust: JSON.stringify(trust) })
    .where('id', '=', artifactId)
    .execute();
}

export async function setArtifactVerdict(db: Kysely<Schema>, artifactId: string, trust: TrustResult): Promise<void> {
  await db
    .updateTable('artifacts')
    .set({ trust: JSON.stringify(trust) })
    .where('id', '=', artifactId)
    .execute();
}

/** The project's artifacts whose signatures were read (those to judge again), with where they are. */
export async function artifactsWithEvidence(db: Kysely<Schema>, projectId: string) {
  return db
    .selectFrom('artifacts as x')
    .innerJoin('applications as a', 'a.id', 'x.application_id')
    .innerJoin('registries as r', 'r.id', 'x.registry_id')
    .select(['x.id', 'x.digest', 'x.repository', 'r.url as registryUrl', 'x.signature_evidence as evidence', 'x.trust'])
    .where('a.project_id', '=', projectId)
    .where('x.signature_evidence', 'is not', null)
    .execute();
}

/**
 * The project's artifacts whose signatures were never read (registered before migration 0016), with where they are,
 * at most `limit`, oldest first.
 */
export async function artifactsWithoutEvidence(db: Kysely<Schema>, projectId: string, limit: number) {
  return db
    .selectFrom('artifacts as x')
    .innerJoin('applications as a', 'a.id', 'x.application_id')
    .select(['x.id', 'x.digest', 'x.repository', 'x.registry_id as registryId'])
    .where('a.project_id', '=', projectId)
    .where('x.signature_evidence', 'is', null)
    .orderBy('x.registered_at')
    .orderBy('x.id')
    .limit(limit)
    .execute();
}

/** The verdict kept with an artifact (null: never judged). */
export async function artifactVerdict(db: Kysely<Schema>, artifactId: string): Promise<TrustResult | null> {
  const r = await db.selectFrom('artifacts').select('trust').where('id', '=', artifactId).executeTakeFirst();
  return r?.trust ?? null;
}
