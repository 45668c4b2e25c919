/**
 * Repository namespaces belong to projects, as Harbor projects own theirs: an admin grants a project a registry and
 * path prefixes, and everything a project names in a registry (its environments' repository templates, for every
 * application present or future, and the repositories its artifacts are registered from) must lie under them. Two
 * projects' grants never overlap, so no project can point at, overwrite or claim another's images. A grant still in
 * use by the project's environments cannot be revoked.
 */
import type { Kysely } from 'kysely';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.ts';
import { environmentsOfProjectInRegistry } from '../store/environments.repository.ts';
import { isUnder, normalizePrefix, overlaps, templateUnder } from '../store/namespace-paths.ts';
import {
  deleteGrant,
  grantsOnRegistry,
  insertGrant,
  listGrants,
  lockRegistryGrants,
  projectIdsNamed,
  type GrantRow,
} from '../store/namespaces.repository.ts';
import { projectIdByName } from '../store/projects.repository.ts';
import { registryIdByName } from '../store/registries.repository.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import { newId } from './tokens.ts';

export interface NamespaceView {
  project: string;
  registry: string;
  /** Shown with its trailing slash: `shop/` grants `shop/web`, `shop/team/api`, … */
  prefix: string;
  createdBy: string;
  createdAt: string;
}

const view = (g: GrantRow): NamespaceView => ({
  project: g.project,
  registry: g.registry,
  prefix: `${g.prefix}/`,
  createdBy: g.createdBy,
  createdAt: g.createdAt.toISOString(),
});

const described = (grants: readonly GrantRow[], registryId: string): string => {
  const here = grants.filter((g) => g.registryId === registryId).map((g) => `${g.prefix}/`);
  return here.length > 0 ? here.join(', ') : 'none on this registry';
};

export class Namespaces {
  constructor(private readonly db: Kysely<Schema>) {}

  private async ids(project: string, registry: string): Promise<{ projectId: string; registryId: string }> {
    const projectId = await projectIdByName(this.db, project);
    if (projectId === undefined) throw new NotFound('project', project);
    const registryId = await registryIdByName(this.db, registry);
    if (registryId === undefined)
      throw new InvalidInput(`no registry named "${registry}" (hoist registry list)`, 'registry');
    return { projectId, registryId };
  }

  /** Every grant (admins), or those of the named projects. */
  async list(projects?: readonly string[]): Promise<NamespaceView[]> {
    if (projects === undefined) return (await listGrants(this.db)).map(view);
    const ids = await projectIdsNamed(this.db, projects);
    return (await listGrants(this.db, ids)).map(view);
  }

  /** Grants a prefix; refused when it overlaps another project's grant on that registry. Granting twice is a no-op. */
  async grant(actor: Actor, project: string, registry: string, rawPrefix: string): Promise<NamespaceView> {
    const prefix = normalizePrefix(rawPrefix);
    if (prefix === undefined)
      throw new InvalidInput(`"${rawPrefix}" is no repository path prefix (e.g. shop/ or team/shop/)`, 'prefix');
    const { projectId, registryId } = await this.ids(project, registry);
    await audited(
      this.db,
      actor,
      { action: 'namespace.grant', objectType: 'project', objectId: project },
      async (trx) => {
        await lockRegistryGrants(trx, registryId);
        const existing = await grantsOnRegistry(trx, registryId);
        const rivals = existing.filter((g) => g.projectId !== projectId && overlaps(g.prefix, prefix));
        if (rivals.length > 0)
          throw new Conflict(
            `${registry}/${prefix}/ overlaps ${rivals.map((g) => `${g.registry}/${g.prefix}/ of project "${g.project}"`).join(', ')}; ` +
              'a namespace belongs to one project',
          );
        if (!existing.some((g) => g.projectId === projectId && g.prefix === prefix))
          await insertGrant(trx, { id: newId(), projectId, registryId, prefix, createdBy: actor.username });
        return { result: undefined, summary: { after: { registry, prefix: `${prefix}/` } } };
      },
    );
    const granted = (await this.list([project])).find((g) => g.registry === registry && g.prefix === `${prefix}/`);
    return granted as NamespaceView;
  }

  /** Revokes a prefix; refused while the project's environments still use it. */
  async revoke(actor: Actor, project: string, registry: string, rawPrefix: string): Promise<void> {
    const prefix = normalizePrefix(rawPrefix);
    if (prefix === undefined) throw new NotFound('namespace', `${project} ${registry}/${rawPrefix}`);
    const { projectId, registryId } = await this.ids(project, registry);
    const others = (await listGrants(this.db, [projectId])).filter(
      (g) => !(g.registryId === registryId && g.prefix === prefix),
    );
    const users = (await environmentsOfProjectInRegistry(this.db, projectId, registryId)).filter(
      (e) =>
        templateUnder(e.repository_template, prefix) &&
        !others.some((g) => g.registryId === registryId && templateUnder(e.repository_template, g.prefix)),
    );
    if (users.length > 0)
      throw new Conflict(
        `environments ${users.map((e) => `${project}/${e.name} (${e.repository_template})`).join(', ')} use ${registry}/${prefix}/; change them first`,
      );
    await audited(
      this.db,
      actor,
      { action: 'namespace.revoke', objectType: 'project', objectId: project },
      async (trx) => {
        await lockRegistryGrants(trx, registryId);
        if (!(await deleteGrant(trx, projectId, registryId, prefix)))
          throw new NotFound('namespace', `${project} ${registry}/${prefix}/`);
        return { result: undefined, summary: { before: { registry, prefix: `${prefix}/` } } };
      },
    );
  }

  /** Throws Forbidden unless every expansion of the template (any application) is in the project's namespaces. */
  async requireTemplate(projectId: string, project: string, registryId: string, template: string): Promise<void> {
    const grants = await listGrants(this.db, [projectId]);
    if (grants.some((g) => g.registryId === registryId && templateUnder(template, g.prefix))) return;
    throw new Forbidden(
      `repository "${template}" is outside the namespaces of project "${project}" on this registry ` +
        `(${described(grants, registryId)}); an admin grants namespaces (hoist project grant-namespace)`,
    );
  }

  /** Throws Forbidden unless the repository is in the project's namespaces on that registry. */
  async requireRepository(projectId: string, project: string, registryId: string, repository: string): Promise<void> {
    const grants = await listGrants(this.db, [projectId]);
    if (grants.some((g) => g.registryId === registryId && isUnder(repository, g.prefix))) return;
    throw new Forbidden(
      `repository "${repository}" is outside the namespaces of project "${project}" on this registry ` +
        `(${described(grants, registryId)}); an admin grants namespaces (hoist project grant-namespace)`,
    );
  }
}
