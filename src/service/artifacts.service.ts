/**
 * Artifacts: what CI built, registered by reference. hoist resolves the digest and reads the image itself from the
 * registry (media type, size, platforms, labels, annotations, created time, attached signatures, SBOMs and reports)
 * and records which of the project's environments hold it, and since when. Registering the same digest again for
 * the same application answers the existing artifact.
 */
import type { Kysely, Transaction } from 'kysely';
import { InvalidInput, NotFound } from '../errors.ts';
import { inspectImage, type ImageInfo } from '../oci/inspect-image.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { readReports, type ImageReports } from '../oci/read-reports.ts';
import { parseReference } from '../oci/reference.ts';
import { openRepository } from '../oci/registry.ts';
import type { FetchedManifest } from '../oci/registry-client.ts';
import type { SbomColumn, ScanColumn, Schema } from '../store/schema.ts';
import { rememberTag, tagsOf } from '../store/artifact-tags.repository.ts';
import { findApplicationByNames } from '../store/applications.repository.ts';
import { promotionUnderway } from '../store/promotion-targets.query.ts';
import {
  addLocationIfMissing,
  artifactIdByDigest,
  artifactIdsByDigest,
  artifactLocations,
  artifactsWithDigest,
  artifactWithApplication,
  currentDigest,
  environmentsPerApplicationInRegistry,
  findArtifact,
  findArtifactById,
  insertArtifact,
  insertLocation,
  listArtifacts,
  locationEnvironmentIds,
  setArtifactReports,
  setLocationTag,
  type ArtifactRow,
} from '../store/artifacts.repository.ts';
import {
  environmentRowsInRegistry,
  findEnvironmentByName,
  type EnvironmentRow,
} from '../store/environments.repository.ts';
import { findQuarantine } from '../store/quarantine.repository.ts';
import {
  findRegistryByHost,
  getRegistryById,
  getRegistryName,
  type RegistryRow,
} from '../store/registries.repository.ts';
import { audited, type Actor } from './audited.ts';
import type { Registries } from './registries.service.ts';
import type { Namespaces } from './namespaces.service.ts';
import { newId } from './tokens.ts';
import { attestationStatusOf, type AttestationStatus } from '../store/promotion-attestations.repository.ts';
import { readEvidence } from '../trust/read-evidence.ts';
import type { Evidence, TrustResult } from '../trust/verify.ts';
import { judge, recordTrust } from './trust.service.ts';

export interface BuildInfo {
  branch?: string;
  commit?: string;
  builder?: string;
  ciUrl?: string;
  labels?: Record<string, string>;
}

export interface ArtifactView {
  application: string;
  digest: string;
  registry: string;
  repository: string;
  /** The tag it was first seen (or registered) with. */
  tag: string | null;
  /** Every tag it has been seen with, oldest first (a scratch tag, then the release tag of the same digest). */
  tags: string[];
  mediaType: string;
  size: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  created: string | null;
  platforms: string[];
  referrers: Array<{ digest: string; mediaType: string; artifactType: string | null }>;
  /** Counts from the attached vulnerability report; null when none is attached. */
  scan: ScanColumn | null;
  sbom: SbomColumn | null;
  /** The signatures and attestations attached, as judged against the project's trust roots (null: never read). */
  trust: TrustResult | null;
  quarantine: { reason: string; by: string; at: string } | null;
  build: BuildInfo;
  registeredBy: string;
  registeredAt: string;
  environments: Array<{ environment: string; tag: string | null; since: string }>;
  /** hoist's own promotion attestations of it (attached, pending or failed); one artifact's answer only. */
  attestations?: Array<Omit<AttestationStatus, 'attachedAt'> & { attachedAt: string | null }>;
}

/** Whether a repository path is what an environment's template gives for this application. */
export function templateMatches(template: string, app: string, repository: string): boolean {
  return template.replaceAll('{app}', app) === repository;
}

/** Whether an environment holds this repository (and, for a tag convention, this tag) for the application. */
function holds(e: EnvironmentRow, app: string, repository: string, tag: string | undefined): boolean {
  return (
    templateMatches(e.repository_template, app, repository) &&
    (e.kind === 'repository' || (tag !== undefined && e.tag_template !== null && tagMatches(e.tag_template, app, tag)))
  );
}

const referrersOf = (ds: readonly Descriptor[]) =>
  ds.map((r) => ({ digest: r.digest, mediaType: r.mediaType, artifactType: r.artifactType ?? null }));

interface Inspected {
  info: ImageInfo;
  reports: ImageReports;
  /** The signatures and attestations read (judged per project when recorded). */
  evidence: Evidence[];
}

export interface PushedArtifact {
  artifactId: string;
  project: string;
  application: string;
  created: boolean;
  newLocations: number;
  /** The environments that hold it by this push (their repository, and tag convention). */
  environments: string[];
}

/**
 * Whether a tag fits a kind-tag environment's convention (`prod`, `{tag}-prod`, `{app}-live`): whether the convention,
 * rendered as a promotion renders it (every `{tag}` the same source tag, src/service/promotion-runner.ts), can give
 * this tag. Linear in the tag's length: every `{tag}` stands for the same text, so its length follows from the tag's
 * (a pattern with a `.+` per `{tag}` backtracked exponentially: `{tag}` five times and an `x` held a 128-character tag
 * for 10 s, and a project owner writes the convention).
 */
export function tagMatches(template: string, app: string, tag: string): boolean {
  const literals = [''];
  for (const part of template.split(/(\{tag\}|\{app\})/))
    if (part === '{tag}') literals.push('');
    else literals[literals.length - 1] += part === '{app}' ? app : part;
  const holes = literals.length - 1;
  if (holes === 0) return literals[0] === tag;
  const size = (tag.length - literals.reduce((n, l) => n + l.length, 0)) / holes;
  if (!Number.isInteger(size) || size < 1) return false;
  const start = literals[0]?.length ?? 0;
  return literals.join(tag.slice(start, start + size)) === tag;
}

export class Artifacts {
  /** Told of the artifacts whose verdict changed when their referrers were read again (re-evaluates what waits). */
  onVerdictsChanged?: (artifactIds: string[]) => Promise<unknown>;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
    private readonly namespaces: Namespaces,
  ) {}

  private async application(project: string, app: string): Promise<{ id: string; projectId: string }> {
    const a = await findApplicationByNames(this.db, project, app);
    if (!a) throw new NotFound('application', `${project}/${app}`);
    return a;
  }

  private async inspect(
    registry: RegistryRow,
    repository: string,
    ref: string,
    signal?: AbortSignal,
    read?: FetchedManifest,
  ): Promise<Inspected> {
    // The row the caller read a moment ago decides the client (as `open` would, without reading it again).
    const repo = openRepository(this.registries.openRow(registry), repository);
    const info = await inspectImage(repo, ref, signal, read);
    const [reports, evidence] = await Promise.all([
      readReports(repo, info.referrers, signal),
      readEvidence(repo, info.digest, info.referrers, signal),
    ]);
    return { info, reports, evidence };
  }

  async register(
    actor: Actor,
    project: string,
    app: string,
    reference: string,
    build: BuildInfo,
    signal?: AbortSignal,
  ): Promise<{ created: boolean; artifact: ArtifactView }> {
    const ref = parseReference(reference, 'reference');
    const application = await this.application(project, app);
    const registry = await findRegistryByHost(this.db, ref.registry);
    if (!registry)
      throw new InvalidInput(
        `no registry at ${ref.registry} is known to hoist; add it first (hoist registry set NAME --url ${ref.registry})`,
        'reference',
      );
    // Only the project's own namespaces: registering another project's image as ours is refused before reading it.
    await this.namespaces.requireRepository(application.projectId, project, registry.id, ref.repository);
    const inspected = await this.inspect(registry, ref.repository, ref.digest ?? ref.tag ?? 'latest', signal);
    const digest = inspected.info.digest;
    if ((await artifactIdByDigest(this.db, application.id, digest)) !== undefined)
      return { created: false, artifact: await this.get(project, app, digest) };
    const envs = await environmentRowsInRegistry(this.db, application.projectId, registry.id);
    const here = envs.filter((e) => holds(e, app, ref.repository, ref.tag));
    await audited(
      this.db,
      actor,
      { action: 'artifact.register', objectType: 'artifact', objectId: `${project}/${app}@${digest}` },
      async (trx) => {
        await this.insert(trx, {
          applicationId: application.id,
          projectId: application.projectId,
          registryId: registry.id,
          registryHost: registry.url,
          repository: ref.repository,
          tag: ref.tag ?? null,
          inspected,
          build,
          by: actor.username,
          environmentIds: here.map((e) => e.id),
        });
        return {
          result: undefined,
          summary: { after: { reference, digest, environments: here.map((e) => e.name), build } },
        };
      },
    );
    return { created: true, artifact: await this.get(project, app, digest) };
  }

  private async insert(
    trx: Transaction<Schema>,
    a: {
      applicationId: string;
      projectId: string;
      registryId: string;
      registryHost: string;
      repository: string;
      tag: string | null;
      inspected: Inspected;
      build: BuildInfo;
      by: string;
      environmentIds: string[];
    },
  ): Promise<string> {
    const { info, reports, evidence } = a.inspected;
    const now = new Date();
    const id = newId();
    const identity = { digest: info.digest, registryHost: a.registryHost, repository: a.repository };
    const trust = await judge(trx, a.projectId, identity, evidence, now);
    const platforms = info.platforms.map((p) =>
      p.platform
        ? `${p.platform.os}/${p.platform.architecture}${p.platform.variant ? `/${p.platform.variant}` : ''}`
        : 'unknown',
    );
    await insertArtifact(trx, {
      id,
      application_id: a.applicationId,
      digest: info.digest,
      registry_id: a.registryId,
      repository: a.repository,
      tag: a.tag,
      media_type: info.mediaType,
      size: info.size,
      labels: JSON.stringify(info.labels),
      annotations: JSON.stringify(info.annotations),
      created: info.created ? new Date(info.created) : null,
      platforms: JSON.stringify(platforms),
      referrers: JSON.stringify(referrersOf(info.referrers)),
      scan: reports.scan ? JSON.stringify(reports.scan) : null,
      sbom: reports.sbom ? JSON.stringify(reports.sbom) : null,
      build: JSON.stringify(a.build),
      signature_evidence: JSON.stringify(evidence),
      trust: JSON.stringify(trust),
      registered_by: a.by,
      registered_at: now,
    });
    for (const envId of a.environmentIds)
      await insertLocation(trx, { artifact_id: id, environment_id: envId, tag: a.tag, since: now });
    if (a.tag !== null) await rememberTag(trx, id, a.tag, now);
    return id;
  }

  /**
   * A registry reported an image pushed (an event, or the poller saw a new or moved tag). Every application whose
   * environments hold that repository (and tag) gets the artifact, as if CI had registered it, or a new location for
   * one it knows. Answers the artifacts touched; none when no environment holds the repository.
   */
  async recordPush(
    registryId: string,
    repository: string,
    tag: string | undefined,
    digest: string,
    signal?: AbortSignal,
    by: { actor: Actor; via: string } = { actor: { username: 'hoist' }, via: 'push' },
    /**
     * registerNew false: only images already registered are recorded (new locations), none is created. `registry`:
     * its row as the caller read it for this push; `manifest`: the pushed manifest (by `digest`) as the caller just
     * read it from the registry (the intake's confirmation), so neither is read again.
     */
    o: { registerNew: boolean; registry?: RegistryRow; manifest?: FetchedManifest } = { registerNew: true },
  ): Promise<PushedArtifact[]> {
    // At once: the registry, the environments that may hold the push, and which applications know the digest already.
    const [registry, envs, known] = await Promise.all([
      o.registry?.id === registryId ? o.registry : getRegistryById(this.db, registryId),
      environmentsPerApplicationInRegistry(this.db, registryId),
      artifactIdsByDigest(this.db, digest),
    ]);
    const matches = envs.filter((e) => holds(e, e.app, repository, tag));
    if (matches.length === 0) return [];
    let inspected: Inspected | undefined;
    const out: PushedArtifact[] = [];
    for (const appId of [...new Set(matches.map((m) => m.applicationId))]) {
      const mine = matches.filter((m) => m.applicationId === appId);
      const first = mine[0] as (typeof mine)[number];
      const existingId = known.get(appId);
      if (existingId !== undefined) {
        const added = await this.db.transaction().execute(async (trx) => {
          const have = new Set(await locationEnvironmentIds(trx, existingId));
          const missing = mine.filter((m) => !have.has(m.id));
          for (const m of missing) {
            // The runner may record the same arrival (a promotion's own push) at the same moment.
            await addLocationIfMissing(trx, {
              artifact_id: existingId,
              environment_id: m.id,
              tag: tag ?? null,
              since: new Date(),
            });
          }
          if (tag !== undefined) await rememberTag(trx, existingId, tag, new Date());
          if (tag !== undefined)
            await setLocationTag(
              trx,
              existingId,
              mine.map((m) => m.id),
              tag,
            );
          return missing.length;
        });
        out.push({
          artifactId: existingId,
          project: first.project,
          application: first.app,
          created: false,
          newLocations: added,
          environments: mine.map((m) => m.name),
        });
        continue;
      }
      if (!o.registerNew) continue;
      inspected ??= await this.inspect(
        registry,
        repository,
        digest,
        signal,
        o.manifest?.digest === digest ? o.manifest : undefined,
      );
      if (inspected.info.digest !== digest)
        throw new InvalidInput(`the registry answered ${inspected.info.digest} for ${repository}@${digest}`, 'digest');
      const current = inspected;
      const id = await audited(
        this.db,
        by.actor,
        { action: 'artifact.register', objectType: 'artifact', objectId: `${first.project}/${first.app}@${digest}` },
        async (trx) => ({
          result: await this.insert(trx, {
            applicationId: appId,
            projectId: first.project_id,
            registryId,
            registryHost: registry.url,
            repository,
            tag: tag ?? null,
            inspected: current,
            build: {},
            by: by.actor.username,
            environmentIds: mine.map((m) => m.id),
          }),
          summary: {
            after: {
              reference: `${registry.url}/${repository}${tag ? `:${tag}` : ''}@${digest}`,
              environments: mine.map((m) => m.name),
              via: by.via,
            },
          },
        }),
      );
      out.push({
        artifactId: id,
        project: first.project,
        application: first.app,
        created: true,
        newLocations: mine.length,
        environments: mine.map((m) => m.name),
      });
    }
    return out;
  }

  /**
   * The artifact an environment holds under a tag or digest, registered on first use: one that hoist has not seen
   * yet but that the environment's repository has is read from the registry and recorded (as a push is), by `actor`.
   * The one lookup of a promotion request's image.
   */
  async resolve(
    actor: Actor,
    project: string,
    app: string,
    env: string,
    image: { tag?: string; digest?: string },
    signal?: AbortSignal,
  ): Promise<ArtifactView> {
    const known = await this.find(project, app, env, image);
    if (known?.environments.some((e) => e.environment === env)) return known;
    const application = await this.application(project, app);
    const e = await findEnvironmentByName(this.db, application.projectId, env);
    const ref = image.digest ?? image.tag;
    if (!e || ref === undefined) {
      if (known) return known;
      throw new NotFound(
        'artifact',
        `${project}/${app}${image.digest ? `@${image.digest}` : `:${image.tag}`} in ${env}`,
      );
    }
    const repository = e.repository_template.replaceAll('{app}', app);
    const registry = await getRegistryById(this.db, e.registry_id);
    const head = await openRepository(await this.registries.open(registry.name), repository).headManifest(ref, signal);
    if (!head) {
      if (known) return known;
      const where = `${registry.url}/${repository}${image.digest ? `@${image.digest}` : `:${image.tag}`}`;
      const underway = await promotionUnderway(this.db, application.id, e.id, image);
      throw new NotFound(
        'artifact',
        `${project}/${app}${image.digest ? `@${image.digest}` : `:${image.tag}`} in ${env}`,
        underway
          ? `a promotion of it into ${env} is ${underway.state} (request ${underway.requestId}): ask again once it is PROMOTED (hoist promote --wait answers then)`
          : `${where} is not in the registry either: push it there, or register it where it is (hoist artifact register)`,
      );
    }
    await this.recordPush(registry.id, repository, image.tag, head.digest, signal, { actor, via: 'first use' });
    return this.get(project, app, head.digest);
  }

  /** An artifact of the application by digest, or the one an environment holds under a tag (or last seen with it). */
  private async find(
    project: string,
    app: string,
    env: string,
    image: { tag?: string; digest?: string },
  ): Promise<ArtifactView | undefined> {
    if (image.digest !== undefined) {
      try {
        return await this.get(project, app, image.digest);
      } catch (e) {
        if (e instanceof NotFound && e.objectType === 'artifact') return undefined;
        throw e;
      }
    }
    if (image.tag === undefined) throw new InvalidInput('name the image by --digest or --tag', 'digest');
    return (await this.list(project, app, env)).find(
      (a) => a.environments.some((e) => e.environment === env && e.tag === image.tag) || a.tag === image.tag,
    );
  }

  /** The digest an environment holds now for an application: the one that arrived there last. */
  async current(applicationId: string, environmentId: string): Promise<string | undefined> {
    return currentDigest(this.db, applicationId, environmentId);
  }

  /** Reads the referrers (and their reports) of every artifact with this digest again: something was attached later. */
  async refreshReferrers(subject: string, signal?: AbortSignal): Promise<string[]> {
    const rows = await artifactsWithDigest(this.db, subject);
    const touched: string[] = [];
    const changed: string[] = [];
    for (const r of rows) {
      const { info, reports, evidence } = await this.inspect(r, r.artifactRepository, subject, signal);
      await setArtifactReports(this.db, r.artifactId, {
        referrers: JSON.stringify(referrersOf(info.referrers)),
        scan: reports.scan ? JSON.stringify(reports.scan) : null,
        sbom: reports.sbom ? JSON.stringify(reports.sbom) : null,
      });
      const owner = await artifactWithApplication(this.db, r.artifactId);
      if (owner) {
        const identity = { digest: subject, registryHost: r.url, repository: r.artifactRepository };
        if (await recordTrust(this.db, r.artifactId, owner.projectId, identity, evidence)) changed.push(r.artifactId);
      }
      touched.push(r.artifactId);
    }
    if (changed.length > 0) await this.onVerdictsChanged?.(changed);
    return touched;
  }

  private async view(r: ArtifactRow, app: string): Promise<ArtifactView> {
    // At once: four statements in flight, one wait.
    const [registry, locations, q, tagsById] = await Promise.all([
      getRegistryName(this.db, r.registry_id),
      artifactLocations(this.db, r.id),
      findQuarantine(this.db, r.digest),
      tagsOf(this.db, [r.id]),
    ]);
    const tags = tagsById.get(r.id) ?? (r.tag === null ? [] : [r.tag]);
    return {
      application: app,
      digest: r.digest,
      registry,
      repository: r.repository,
      tag: r.tag,
      tags,
      mediaType: r.media_type,
      size: Number(r.size),
      labels: r.labels,
      annotations: r.annotations,
      created: r.created?.toISOString() ?? null,
      platforms: r.platforms,
      referrers: r.referrers,
      scan: r.scan === null ? null : r.scan,
      sbom: r.sbom === null ? null : r.sbom,
      trust: r.trust,
      quarantine: q ? { reason: q.reason, by: q.by_user, at: q.at.toISOString() } : null,
      build: r.build,
      registeredBy: r.registered_by,
      registeredAt: r.registered_at.toISOString(),
      environments: locations.map((l) => ({ environment: l.environment, tag: l.tag, since: l.since.toISOString() })),
    };
  }

  async get(project: string, app: string, digest: string): Promise<ArtifactView> {
    const application = await this.application(project, app);
    const r = await findArtifact(this.db, application.id, digest);
    if (!r) throw new NotFound('artifact', `${project}/${app}@${digest}`);
    return this.withAttestations(r, app);
  }

  /**
   * An artifact by its id, of the application named `app` (as `get` answers it), when the caller knows both: the
   * automation, which has them from its first look (src/store/automation-outlook.query.ts).
   */
  async byId(artifactId: string, app: string): Promise<ArtifactView> {
    const r = await findArtifactById(this.db, artifactId);
    if (!r) throw new NotFound('artifact', artifactId);
    return this.withAttestations(r, app);
  }

  private async withAttestations(r: ArtifactRow, app: string): Promise<ArtifactView> {
    const [view, attestations] = await Promise.all([this.view(r, app), attestationStatusOf(this.db, r.id)]);
    return {
      ...view,
      attestations: attestations.map((a) => ({ ...a, attachedAt: a.attachedAt?.toISOString() ?? null })),
    };
  }

  /** Newest first; only those in `environment` when given. */
  async list(project: string, app: string, environment?: string, limit = 100): Promise<ArtifactView[]> {
    const application = await this.application(project, app);
    const rows = await listArtifacts(this.db, application.id, {
      limit: Math.min(limit, 1000),
      ...(environment !== undefined ? { environment } : {}),
    });
    return Promise.all(rows.map((r) => this.view(r, app)));
  }
}
