/**
 * Trust roots and the verdicts made with them. Owners name the public keys their project trusts; hoist judges the
 * signatures and attestations of each artifact against them when the artifact is read (registered, pushed, a
 * referrer arrived) and keeps the verdict with it. A change of roots judges the project's artifacts again at once,
 * in the change's own transaction, from the evidence kept with them (no registry is asked), so a policy never sees
 * a verdict made with a key that is gone.
 */
import type { Kysely } from 'kysely';
import { InvalidInput, NotFound } from '../errors.ts';
import { parsePublicKey, type KeyAlgorithm } from '../trust/keys.ts';
import { verifyEvidence, type Evidence, type TrustResult, type TrustRootKey } from '../trust/verify.ts';
import { findProjectByName } from '../store/projects.repository.ts';
import type { Schema } from '../store/schema.ts';
import {
  artifactsWithEvidence,
  deleteTrustRoot,
  findTrustRoot,
  listTrustRoots,
  putTrustRoot,
  setArtifactVerdict,
  type TrustRootRow,
} from '../store/trust-roots.repository.ts';
import { audited, type Actor } from './audited.ts';
import { NAME, NAME_HINT } from './names.ts';
import { newId } from './tokens.ts';

export interface TrustRootView {
  name: string;
  algorithm: KeyAlgorithm;
  fingerprint: string;
  publicKey: string;
  createdBy: string;
  createdAt: string;
}

const view = (r: TrustRootRow): TrustRootView => ({
  name: r.name,
  algorithm: r.algorithm as KeyAlgorithm,
  fingerprint: r.fingerprint,
  publicKey: r.public_key,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

/** Keys parsed from their PEM text, kept: every registration judges with its project's roots (RSA parses slowly). */
const parsedKeys = new Map<string, ReturnType<typeof parsePublicKey>>();

function parsedKey(pem: string): ReturnType<typeof parsePublicKey> {
  let parsed = parsedKeys.get(pem);
  if (parsed === undefined) {
    if (parsedKeys.size >= 1024) parsedKeys.clear();
    parsed = parsePublicKey(pem);
    parsedKeys.set(pem, parsed);
  }
  return parsed;
}

/** The project's roots as keys (a stored key that no longer parses is left out, never trusted). */
export async function trustRootKeys(db: Kysely<Schema>, projectId: string): Promise<TrustRootKey[]> {
  const keys: TrustRootKey[] = [];
  for (const r of await listTrustRoots(db, projectId)) {
    const parsed = parsedKey(r.public_key);
    if (parsed.ok) keys.push({ name: r.name, ...parsed.value });
  }
  return keys;
}

/** The verdict on an artifact's evidence with the project's roots now. */
export async function judge(
  db: Kysely<Schema>,
  projectId: string,
  artifact: { digest: string; registryHost: string; repository: string },
  evidence: readonly Evidence[],
  now = new Date(),
): Promise<TrustResult> {
  return verifyEvidence(evidence, artifact, await trustRootKeys(db, projectId), now);
}

export class TrustRoots {
  constructor(private readonly db: Kysely<Schema>) {}

  private async projectId(project: string): Promise<string> {
    const p = await findProjectByName(this.db, project);
    if (!p) throw new NotFound('project', project);
    return p.id;
  }

  async list(project: string): Promise<TrustRootView[]> {
    return (await listTrustRoots(this.db, await this.projectId(project))).map(view);
  }

  async get(project: string, name: string): Promise<TrustRootView> {
    const r = await findTrustRoot(this.db, await this.projectId(project), name);
    if (!r) throw new NotFound('trust root', `${project}/${name}`);
    return view(r);
  }

  /** Adds a root or replaces its key; the project's artifacts are judged again. */
  async put(
    actor: Actor,
    project: string,
    name: string,
    publicKey: string,
  ): Promise<{ root: TrustRootView; created: boolean }> {
    if (!NAME.test(name)) throw new InvalidInput(`"${name}" is not a trust root name: ${NAME_HINT}`, 'name');
    const key = parsePublicKey(publicKey);
    if (!key.ok) throw new InvalidInput(key.error, 'publicKey');
    const projectId = await this.projectId(project);
    const before = await findTrustRoot(this.db, projectId, name);
    const now = new Date();
    await audited(
      this.db,
      actor,
      {
        action: before ? 'trust-root.replace' : 'trust-root.add',
        objectType: 'trust-root',
        objectId: `${project}/${name}`,
      },
      async (trx) => {
        await putTrustRoot(trx, {
          id: before?.id ?? newId(),
          project_id: projectId,
          name,
          algorithm: key.value.algorithm,
          fingerprint: key.value.fingerprint,
          public_key: key.value.pem,
          created_by: actor.username,
          created_at: now,
        });
        const n = await reverify(trx, projectId, now);
        return {
          result: n,
          summary: {
            ...(before ? { before: { fingerprint: before.fingerprint } } : {}),
            after: { algorithm: key.value.algorithm, fingerprint: key.value.fingerprint },
            artifactsReverified: n,
          },
        };
      },
    );
    return { root: await this.get(project, name), created: before === undefined };
  }

  async remove(actor: Actor, project: string, name: string): Promise<void> {
    const projectId = await this.projectId(project);
    const before = await findTrustRoot(this.db, projectId, name);
    if (!before) throw new NotFound('trust root', `${project}/${name}`);
    await audited(
      this.db,
      actor,
      { action: 'trust-root.remove', objectType: 'trust-root', objectId: `${project}/${name}` },
      async (trx) => {
        await deleteTrustRoot(trx, projectId, name);
        const n = await reverify(trx, projectId, new Date());
        return { result: undefined, summary: { before: { fingerprint: before.fingerprint }, artifactsReverified: n } };
      },
    );
  }
}

/** Judges every artifact of the project whose evidence is kept again with its roots now; answers how many. */
async function reverify(db: Kysely<Schema>, projectId: string, now: Date): Promise<number> {
  const roots = await trustRootKeys(db, projectId);
  const rows = await artifactsWithEvidence(db, projectId);
  for (const r of rows) {
    const verdict = verifyEvidence(
      r.evidence ?? [],
      { digest: r.digest, registryHost: r.registryUrl, repository: r.repository },
      roots,
      now,
    );
    await setArtifactVerdict(db, r.id, verdict);
  }
  return rows.length;
}
