/**
 * Artifacts: what CI built, registered by reference. hoist resolves the digest and reads the image itself from the
 * registry (media type, size, platforms, labels, annotations, created time, attached signatures, SBOMs and reports)
 * and records which of the project's environments hold it, and since when. Registering the same digest again for
 * the same application answers the existing artifact.
 */
import type { Kysely, Selectable } from 'kysely';
import { InvalidInput, NotFound } from '../errors.ts';
import { inspectImage } from '../oci/inspect-image.ts';
import { parseReference } from '../oci/reference.ts';
import { openHost, openRepository } from '../oci/registry.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import type { Registries } from './registries.service.ts';
import { newId } from './tokens.ts';

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
  tag: string | null;
  mediaType: string;
  size: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  created: string | null;
  platforms: string[];
  referrers: Array<{ digest: string; mediaType: string; artifactType: string | null }>;
  build: BuildInfo;
  registeredBy: string;
  registeredAt: string;
  environments: Array<{ environment: string; tag: string | null; since: string }>;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/** Whether a repository path is what an environment's template gives for this application. */
export function templateMatches(template: string, app: string, repository: string): boolean {
  return template.replaceAll('{app}', app) === repository;
}

/** Whether a tag fits a kind-tag environment's convention (`prod`, `{tag}-prod`, `{app}-live`). */
export function tagMatches(template: string, app: string, tag: string): boolean {
  const pattern = template
    .split(/(\{tag\}|\{app\})/)
    .map((part) => (part === '{tag}' ? '.+' : (part === '{app}' ? app : part).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${pattern}$`).test(tag);
}

export class Artifacts {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
  ) {}

  private async application(project: string, app: string): Promise<{ id: string; projectId: string }> {
    const a = await this.db
      .selectFrom('applications')
      .innerJoin('projects', 'projects.id', 'applications.project_id')
      .select(['applications.id as id', 'projects.id as projectId'])
      .where('projects.name', '=', project)
      .where('applications.name', '=', app)
      .executeTakeFirst();
    if (!a) throw new NotFound('application', `${project}/${app}`);
    return a;
  }

  async register(actor: Actor, project: string, app: string, reference: string, build: BuildInfo, signal?: AbortSignal): Promise<{ created: boolean; artifact: ArtifactView }> {
    const ref = parseReference(reference, 'reference');
    const application = await this.application(project, app);
    const registry = await this.db.selectFrom('registries').selectAll().where('url', '=', ref.registry).executeTakeFirst();
    if (!registry) throw new InvalidInput(`no registry at ${ref.registry} is known to hoist; add it first (hoist registry set NAME --url ${ref.registry})`, 'reference');
    const c = await this.registries.credentials(registry.name);
    const host = openHost(c.host, { insecure: c.insecure, ...(c.credentials ? { credentials: c.credentials } : {}) });
    const info = await inspectImage(openRepository(host, ref.repository), ref.digest ?? ref.tag ?? 'latest', signal);
    const existing = await this.db.selectFrom('artifacts').select('id').where('application_id', '=', application.id).where('digest', '=', info.digest).executeTakeFirst();
    if (existing) return { created: false, artifact: await this.get(project, app, info.digest) };

    const envs = await this.db.selectFrom('environments').selectAll().where('project_id', '=', application.projectId).where('registry_id', '=', registry.id).execute();
    const here = envs.filter(
      (e) => templateMatches(e.repository_template, app, ref.repository) && (e.kind === 'repository' || (ref.tag !== undefined && e.tag_template !== null && tagMatches(e.tag_template, app, ref.tag))),
    );
    const now = new Date();
    const id = newId();
    const platforms = info.platforms.map((p) => (p.platform ? `${p.platform.os}/${p.platform.architecture}${p.platform.variant ? `/${p.platform.variant}` : ''}` : 'unknown'));
    const referrers = info.referrers.map((r) => ({ digest: r.digest, mediaType: r.mediaType, artifactType: r.artifactType ?? null }));
    await audited(this.db, actor, { action: 'artifact.register', objectType: 'artifact', objectId: `${project}/${app}@${info.digest}` }, async (trx) => {
      await trx
        .insertInto('artifacts')
        .values({
          id,
          application_id: application.id,
          digest: info.digest,
          registry_id: registry.id,
          repository: ref.repository,
          tag: ref.tag ?? null,
          media_type: info.mediaType,
          size: info.size,
          labels: JSON.stringify(info.labels),
          annotations: JSON.stringify(info.annotations),
          created: info.created ? new Date(info.created) : null,
          platforms: JSON.stringify(platforms),
          referrers: JSON.stringify(referrers),
          build: JSON.stringify(build),
          registered_by: actor.username,
          registered_at: now,
        })
        .execute();
      for (const e of here) await trx.insertInto('artifact_locations').values({ artifact_id: id, environment_id: e.id, tag: ref.tag ?? null, since: now }).execute();
      return { result: undefined, summary: { after: { reference, digest: info.digest, environments: here.map((e) => e.name), build } } };
    });
    return { created: true, artifact: await this.get(project, app, info.digest) };
  }

  private async view(r: Selectable<Schema['artifacts']>, app: string): Promise<ArtifactView> {
    const registry = await this.db.selectFrom('registries').select('name').where('id', '=', r.registry_id).executeTakeFirstOrThrow();
    const locations = await this.db
      .selectFrom('artifact_locations')
      .innerJoin('environments', 'environments.id', 'artifact_locations.environment_id')
      .select(['environments.name as environment', 'artifact_locations.tag as tag', 'artifact_locations.since as since', 'environments.position as position'])
      .where('artifact_id', '=', r.id)
      .orderBy('environments.position')
      .execute();
    return {
      application: app,
      digest: r.digest,
      registry: registry.name,
      repository: r.repository,
      tag: r.tag,
      mediaType: r.media_type,
      size: Number(r.size),
      labels: json(r.labels),
      annotations: json(r.annotations),
      created: r.created?.toISOString() ?? null,
      platforms: json(r.platforms),
      referrers: json(r.referrers),
      build: json(r.build),
      registeredBy: r.registered_by,
      registeredAt: r.registered_at.toISOString(),
      environments: locations.map((l) => ({ environment: l.environment, tag: l.tag, since: l.since.toISOString() })),
    };
  }

  async get(project: string, app: string, digest: string): Promise<ArtifactView> {
    const application = await this.application(project, app);
    const r = await this.db.selectFrom('artifacts').selectAll().where('application_id', '=', application.id).where('digest', '=', digest).executeTakeFirst();
    if (!r) throw new NotFound('artifact', `${project}/${app}@${digest}`);
    return this.view(r, app);
  }

  /** Newest first; only those in `environment` when given. */
  async list(project: string, app: string, environment?: string, limit = 100): Promise<ArtifactView[]> {
    const application = await this.application(project, app);
    let q = this.db.selectFrom('artifacts').selectAll('artifacts').where('application_id', '=', application.id).orderBy('registered_at', 'desc').limit(Math.min(limit, 1000));
    if (environment !== undefined) {
      q = q.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('artifact_locations')
            .innerJoin('environments', 'environments.id', 'artifact_locations.environment_id')
            .select('artifact_locations.artifact_id')
            .whereRef('artifact_locations.artifact_id', '=', 'artifacts.id')
            .where('environments.name', '=', environment),
        ),
      );
    }
    return Promise.all((await q.execute()).map((r) => this.view(r, app)));
  }
}
