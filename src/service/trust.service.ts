/**
 * Trust roots and the verdicts made with them. Owners name the public keys and the Sigstore identities (issuer and
 * subject, with the trusted root their certificates chain to) their project trusts; hoist judges the signatures and
 * attestations of each artifact against them when the artifact is read (registered, pushed, a referrer arrived) and
 * keeps the verdict with it.
 *
 * A change of roots, in the change's own transaction: every artifact of the project whose evidence is kept is judged
 * again from that evidence (no registry is asked), and the promotion targets still waiting (AWAITING_APPROVAL or
 * QUEUED) on an artifact whose verdict changed are re-evaluated as for a policy change (src/promotion/
 * plan-reevaluation.ts: a verdict the policy now denies makes the target STALE), so a policy never lets a target
 * through on a key that is gone. Artifacts whose signatures were never read (registered before migration 0016) are
 * read after the change commits, in the background, on the push-event queue (the leased queue that already reads
 * an artifact's referrers again when a referrer is pushed), at most REREAD_LIMIT per change; what they find is judged
 * and re-evaluated the same way (`reevaluateArtifacts`).
 */
import type { Kysely, Transaction } from 'kysely';
import { InvalidInput, NotFound } from '../errors.ts';
import type { PolicyChange, Reevaluation } from '../promotion/plan-reevaluation.ts';
import { parsePublicKey, type KeyAlgorithm } from '../trust/keys.ts';
import {
  identityOf,
  identityProblem,
  parseTrustedRoot,
  sigstoreRootFingerprint,
  trustedRootFingerprint,
  type SigstoreIdentity,
} from '../trust/sigstore.ts';
import {
  verifyEvidence,
  type Evidence,
  type SigstoreRoot,
  type TrustResult,
  type TrustRootKey,
} from '../trust/verify.ts';
import { findProjectByName } from '../store/projects.repository.ts';
import type { Schema } from '../store/schema.ts';
import {
  artifactsWithEvidence,
  artifactsWithoutEvidence,
  artifactVerdict,
  deleteTrustRoot,
  findTrustRoot,
  listTrustRoots,
  putTrustRoot,
  setArtifactTrust,
  setArtifactVerdict,
  type TrustRootRow,
} from '../store/trust-roots.repository.ts';
import type { WaitingFilter } from '../store/waiting-targets.query.ts';
import { audited, type Actor } from './audited.ts';
import { NAME, NAME_HINT } from './names.ts';
import { newId } from './tokens.ts';

/** At most this many never-read artifacts are queued to be read per change of roots (the next change takes more). */
export const REREAD_LIMIT = 500;

export interface TrustRootView {
  name: string;
  algorithm: KeyAlgorithm | 'sigstore';
  /** A key: sha256 of its DER SubjectPublicKeyInfo; a Sigstore identity: sha256 of the identity and trusted root. */
  fingerprint: string;
  /** PEM; absent for a Sigstore identity. */
  publicKey?: string;
  sigstore?: SigstoreIdentity & {
    trustedRoot: {
      fingerprint: string;
      /** The trusted_root.json as given. */
      document: string;
      certificateAuthorities: number;
      tlogs: number;
      ctlogs: number;
      timestampAuthorities: number;
    };
  };
  createdBy: string;
  createdAt: string;
}

/** A Sigstore identity as given: exact issuer/subject or RE2 patterns, and the trusted_root.json text. */
export interface SigstoreRootInput extends SigstoreIdentity {
  trustedRoot: string;
}

function view(r: TrustRootRow): TrustRootView {
  const base = {
    name: r.name,
    fingerprint: r.fingerprint,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
  };
  if (r.sigstore !== null && r.trusted_root !== null) {
    const root = parseTrustedRoot(r.trusted_root);
    const t = root.ok ? root.value : undefined;
    return {
      ...base,
      algorithm: 'sigstore',
      sigstore: {
        ...identityOf(r.sigstore),
        trustedRoot: {
          fingerprint: t?.fingerprint ?? trustedRootFingerprint(r.trusted_root),
          document: r.trusted_root,
          certificateAuthorities: t?.certificateAuthorities ?? 0,
          tlogs: t?.tlogs ?? 0,
          ctlogs: t?.ctlogs ?? 0,
          timestampAuthorities: t?.timestampAuthorities ?? 0,
        },
      },
    };
  }
  return { ...base, algorithm: r.algorithm as KeyAlgorithm, publicKey: r.public_key ?? '' };
}

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

/** A project's roots, read for judging: its keys and its Sigstore identities. */
export interface ProjectRoots {
  keys: TrustRootKey[];
  sigstore: SigstoreRoot[];
}

/** The project's roots (a stored key or trusted root that no longer parses is left out, never trusted). */
export async function projectRoots(db: Kysely<Schema>, projectId: string): Promise<ProjectRoots> {
  const out: ProjectRoots = { keys: [], sigstore: [] };
  for (const r of await listTrustRoots(db, projectId)) {
    if (r.sigstore !== null && r.trusted_root !== null) {
      const root = parseTrustedRoot(r.trusted_root);
      if (root.ok)
        out.sigstore.push({
          name: r.name,
          fingerprint: r.fingerprint,
          identity: identityOf(r.sigstore),
          trustedRoot: root.value,
        });
      continue;
    }
    const parsed = r.public_key === null ? undefined : parsedKey(r.public_key);
    if (parsed?.ok) out.keys.push({ name: r.name, ...parsed.value });
  }
  return out;
}

/** The project's public-key roots as keys. */
export async function trustRootKeys(db: Kysely<Schema>, projectId: string): Promise<TrustRootKey[]> {
  return (await projectRoots(db, projectId)).keys;
}

/** The verdict on an artifact's evidence with the project's roots now. */
export async function judge(
  db: Kysely<Schema>,
  projectId: string,
  artifact: { digest: string; registryHost: string; repository: string },
  evidence: readonly Evidence[],
  now = new Date(),
): Promise<TrustResult> {
  const roots = await projectRoots(db, projectId);
  return verifyEvidence(evidence, artifact, roots.keys, now, roots.sigstore);
}

/**
 * Keeps what was read of an artifact's signatures and the verdict on it; answers whether what a policy reads of the
 * verdict changed (then the targets waiting on it are to be re-evaluated: TrustRoots.reevaluateArtifacts).
 */
export async function recordTrust(
  db: Kysely<Schema>,
  artifactId: string,
  projectId: string,
  artifact: { digest: string; registryHost: string; repository: string },
  evidence: readonly Evidence[],
): Promise<boolean> {
  const before = await artifactVerdict(db, artifactId);
  const after = await judge(db, projectId, artifact, evidence);
  await setArtifactTrust(db, artifactId, evidence, after);
  return policyView(before) !== policyView(after);
}

/** What a policy reads of a verdict (signature.*, attestations, provenance.*): a change here is a change of outcome. */
const policyView = (t: TrustResult | null): string =>
  t === null ? 'null' : JSON.stringify([t.verified, t.signers, t.attestations, t.provenance]);

/**
 * Re-evaluation of the targets waiting on some artifacts (the promotions service, as for a policy change), inside
 * the caller's transaction; `reevaluated` is told after the commit.
 */
export interface TrustWatcher {
  reevaluateIn(
    trx: Transaction<Schema>,
    actor: Actor,
    change: PolicyChange,
    filter: WaitingFilter,
  ): Promise<Reevaluation[]>;
  reevaluated(changes: readonly Reevaluation[]): void;
}

/** Where never-read artifacts are queued to be read (the push-event intake: a referrer of the digest to refresh). */
export interface EvidenceReader {
  receive(
    registryId: string,
    source: 'trust',
    events: ReadonlyArray<{ id: string; repository: string; tag?: string; digest: string }>,
  ): Promise<{ accepted: number }>;
}

const NO_WATCHER: TrustWatcher = { reevaluateIn: async () => [], reevaluated: () => {} };

export class TrustRoots {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly watcher: TrustWatcher = NO_WATCHER,
    private readonly reader?: EvidenceReader,
  ) {}

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

  /** Adds a public-key root or replaces its key; the project's artifacts are judged again. */
  async put(
    actor: Actor,
    project: string,
    name: string,
    publicKey: string,
  ): Promise<{ root: TrustRootView; created: boolean }> {
    if (!NAME.test(name)) throw new InvalidInput(`"${name}" is not a trust root name: ${NAME_HINT}`, 'name');
    const key = parsePublicKey(publicKey);
    if (!key.ok) throw new InvalidInput(key.error, 'publicKey');
    return this.write(actor, project, name, {
      algorithm: key.value.algorithm,
      fingerprint: key.value.fingerprint,
      public_key: key.value.pem,
      sigstore: null,
      trusted_root: null,
    });
  }

  /** Adds a root naming a Sigstore identity, or replaces one; the project's artifacts are judged again. */
  async putSigstore(
    actor: Actor,
    project: string,
    name: string,
    input: SigstoreRootInput,
  ): Promise<{ root: TrustRootView; created: boolean }> {
    if (!NAME.test(name)) throw new InvalidInput(`"${name}" is not a trust root name: ${NAME_HINT}`, 'name');
    const identity = identityOf(input);
    const problem = identityProblem(identity);
    if (problem) throw new InvalidInput(problem.error, `sigstore.${problem.field}`);
    const root = parseTrustedRoot(input.trustedRoot);
    if (!root.ok) throw new InvalidInput(root.error, 'sigstore.trustedRoot');
    return this.write(actor, project, name, {
      algorithm: 'sigstore',
      fingerprint: sigstoreRootFingerprint(identity, input.trustedRoot),
      public_key: null,
      sigstore: JSON.stringify(identity),
      trusted_root: input.trustedRoot,
    });
  }

  private async write(
    actor: Actor,
    project: string,
    name: string,
    what: {
      algorithm: string;
      fingerprint: string;
      public_key: string | null;
      sigstore: string | null;
      trusted_root: string | null;
    },
  ): Promise<{ root: TrustRootView; created: boolean }> {
    const projectId = await this.projectId(project);
    const before = await findTrustRoot(this.db, projectId, name);
    const now = new Date();
    const outcome = await audited(
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
          ...what,
          created_by: actor.username,
          created_at: now,
        });
        const r = await this.reverify(trx, actor, project, projectId, now);
        return {
          result: r,
          summary: {
            ...(before ? { before: { algorithm: before.algorithm, fingerprint: before.fingerprint } } : {}),
            after: {
              algorithm: what.algorithm,
              fingerprint: what.fingerprint,
              ...(what.sigstore !== null ? { sigstore: JSON.parse(what.sigstore) as unknown } : {}),
            },
            artifactsReverified: r.artifacts,
            verdictsChanged: r.changed,
            reevaluated: r.reevaluations.length,
          },
        };
      },
    );
    await this.afterChange(projectId, outcome);
    return { root: await this.get(project, name), created: before === undefined };
  }

  async remove(actor: Actor, project: string, name: string): Promise<void> {
    const projectId = await this.projectId(project);
    const before = await findTrustRoot(this.db, projectId, name);
    if (!before) throw new NotFound('trust root', `${project}/${name}`);
    const outcome = await audited(
      this.db,
      actor,
      { action: 'trust-root.remove', objectType: 'trust-root', objectId: `${project}/${name}` },
      async (trx) => {
        await deleteTrustRoot(trx, projectId, name);
        const r = await this.reverify(trx, actor, project, projectId, new Date());
        return {
          result: r,
          summary: {
            before: { algorithm: before.algorithm, fingerprint: before.fingerprint },
            artifactsReverified: r.artifacts,
            verdictsChanged: r.changed,
            reevaluated: r.reevaluations.length,
          },
        };
      },
    );
    await this.afterChange(projectId, outcome);
  }

  /**
   * Re-evaluates the targets waiting on these artifacts, whose verdicts were just written (a referrer read again):
   * in a transaction of its own, after the verdicts' (the late evidence only adds what is now known).
   */
  async reevaluateArtifacts(actor: Actor, artifactIds: readonly string[]): Promise<Reevaluation[]> {
    if (artifactIds.length === 0) return [];
    const changes = await this.db
      .transaction()
      .execute((trx) =>
        this.watcher.reevaluateIn(
          trx,
          actor,
          { kind: 'trust', policy: 'the verdict on its signatures changed' },
          { artifactIds },
        ),
      );
    this.watcher.reevaluated(changes);
    return changes;
  }

  /** Judges the project's artifacts with kept evidence again and re-evaluates the targets waiting on those changed. */
  private async reverify(
    trx: Transaction<Schema>,
    actor: Actor,
    project: string,
    projectId: string,
    now: Date,
  ): Promise<{ artifacts: number; changed: number; reevaluations: Reevaluation[] }> {
    const roots = await projectRoots(trx, projectId);
    const rows = await artifactsWithEvidence(trx, projectId);
    const changed: string[] = [];
    for (const r of rows) {
      const verdict = verifyEvidence(
        r.evidence ?? [],
        { digest: r.digest, registryHost: r.registryUrl, repository: r.repository },
        roots.keys,
        now,
        roots.sigstore,
      );
      if (policyView(verdict) !== policyView(r.trust)) changed.push(r.id);
      await setArtifactVerdict(trx, r.id, verdict);
    }
    const reevaluations =
      changed.length === 0
        ? []
        : await this.watcher.reevaluateIn(
            trx,
            actor,
            { kind: 'trust', policy: `the trust roots of ${project} changed` },
            { artifactIds: changed },
          );
    return { artifacts: rows.length, changed: changed.length, reevaluations };
  }

  /** After a change committed: wake the runner if needed, and queue the never-read artifacts to be read. */
  private async afterChange(projectId: string, outcome: { reevaluations: Reevaluation[] }): Promise<void> {
    this.watcher.reevaluated(outcome.reevaluations);
    if (!this.reader) return;
    const unread = await artifactsWithoutEvidence(this.db, projectId, REREAD_LIMIT);
    const stamp = Date.now();
    const byRegistry = new Map<string, typeof unread>();
    for (const a of unread) byRegistry.set(a.registryId, [...(byRegistry.get(a.registryId) ?? []), a]);
    for (const [registryId, list] of byRegistry)
      // The referrers index tag names the digest whose referrers to read again (src/service/intake.service.ts).
      await this.reader.receive(
        registryId,
        'trust',
        list.map((a) => ({
          id: `${a.id}:${stamp}`,
          repository: a.repository,
          tag: a.digest.replace(':', '-'),
          digest: a.digest,
        })),
      );
  }
}
