/**
 * A project's environments (where its images live: a registry + repository template, or a tag convention inside one
 * repository) and its pipeline: the allowed promotion edges between them. An edge into the environment it starts
 * from, or to another project's environment, is refused; skipping a stage needs an explicit edge.
 */
import type { Kysely } from 'kysely';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.ts';
import { refuseIfBound } from './binding-guard.ts';
import type { Namespaces } from './namespaces.service.ts';
import {
  deleteEnvironment,
  deletePipelineEdges,
  insertEnvironment,
  insertPipelineEdge,
  listEnvironmentRows,
  pipelineEdges,
  updateEnvironment,
  type EnvironmentRow,
} from '../store/environments.repository.ts';
import { projectIdByName } from '../store/projects.repository.ts';
import { registryIdByName } from '../store/registries.repository.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import { newId } from './tokens.ts';
import type { PromotionWindow } from '../automation/window.ts';
import { checkEnvironment, type EnvironmentInput } from './environment-shape.ts';

export type { EnvironmentInput } from './environment-shape.ts';

export interface EnvironmentView extends Required<Omit<EnvironmentInput, 'tag' | 'windows'>> {
  tag: string | null;
  windows: PromotionWindow[];
}

export interface Edge {
  from: string;
  to: string;
}

/** What a non-admin may not change on a protected environment: where it is, its tag rules, its protection. */
function protectedChanges(e: EnvironmentRow, input: EnvironmentInput, registryId: string): string[] {
  const changed: string[] = [];
  if (e.registry_id !== registryId) changed.push('registry');
  if (e.kind !== input.kind) changed.push('kind');
  if (e.repository_template !== input.repository) changed.push('repository');
  if ((input.kind === 'tag' ? (input.tag ?? null) : null) !== e.tag_template) changed.push('tag');
  if (input.immutableTags !== undefined && input.immutableTags !== e.immutable_tags) changed.push('immutableTags');
  if (input.allowTagMove !== undefined && input.allowTagMove !== e.allow_tag_move) changed.push('allowTagMove');
  if (input.protected === false) changed.push('protected');
  return changed;
}

/** The windows column as stored (null means none). */
export const windowsOf = (v: unknown[] | null): PromotionWindow[] => (v ?? []) as PromotionWindow[];

export class Environments {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly namespaces: Namespaces,
  ) {}

  private async projectId(project: string): Promise<string> {
    const id = await projectIdByName(this.db, project);
    if (id === undefined) throw new NotFound('project', project);
    return id;
  }

  private async rows(projectId: string): Promise<Array<EnvironmentRow & { registry: string }>> {
    return listEnvironmentRows(this.db, projectId);
  }

  private view(r: EnvironmentRow & { registry: string }): EnvironmentView {
    return {
      name: r.name,
      position: r.position,
      kind: r.kind,
      registry: r.registry,
      repository: r.repository_template,
      tag: r.tag_template,
      immutableTags: r.immutable_tags,
      allowTagMove: r.allow_tag_move,
      protected: r.protected,
      soakSeconds: r.soak_seconds,
      windows: windowsOf(r.windows),
    };
  }

  async list(project: string): Promise<EnvironmentView[]> {
    return (await this.rows(await this.projectId(project))).map((r) => this.view(r));
  }

  async get(project: string, name: string): Promise<EnvironmentView> {
    const e = (await this.list(project)).find((x) => x.name === name);
    if (!e) throw new NotFound('environment', `${project}/${name}`);
    return e;
  }

  async put(
    actor: Actor,
    project: string,
    input: EnvironmentInput,
    mode: 'create' | 'upsert',
  ): Promise<EnvironmentView> {
    checkEnvironment(input);
    const projectId = await this.projectId(project);
    const registryId = await registryIdByName(this.db, input.registry);
    if (registryId === undefined)
      throw new InvalidInput(`no registry named "${input.registry}" (hoist registry list)`, 'registry');
    await this.namespaces.requireTemplate(projectId, project, registryId, input.repository);
    const all = await this.rows(projectId);
    const existing = all.find((r) => r.name === input.name);
    if (existing && mode === 'create') throw new Conflict(`environment "${project}/${input.name}" exists already`);
    if (existing?.protected && !actor.isAdmin) {
      const changed = protectedChanges(existing, input, registryId);
      if (changed.length > 0)
        throw new Forbidden(
          `environment "${project}/${input.name}" is protected: only an admin changes its ${changed.join(', ')}`,
        );
    }
    const now = new Date();
    const row = {
      id: existing?.id ?? newId(),
      project_id: projectId,
      name: input.name,
      position: input.position ?? existing?.position ?? all.reduce((m, r) => Math.max(m, r.position + 1), 0),
      kind: input.kind,
      registry_id: registryId,
      repository_template: input.repository,
      tag_template: input.kind === 'tag' ? (input.tag ?? null) : null,
      immutable_tags: input.immutableTags ?? existing?.immutable_tags ?? false,
      allow_tag_move: input.allowTagMove ?? existing?.allow_tag_move ?? true,
      protected: input.protected ?? existing?.protected ?? false,
      soak_seconds: input.soakSeconds ?? existing?.soak_seconds ?? 0,
      windows: JSON.stringify(
        input.windows === undefined ? (existing ? windowsOf(existing.windows) : []) : (input.windows ?? []),
      ),
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    const after = this.view({ ...row, windows: JSON.parse(row.windows) as unknown[], registry: input.registry });
    return audited(
      this.db,
      actor,
      {
        action: existing ? 'environment.update' : 'environment.create',
        objectType: 'environment',
        objectId: `${project}/${input.name}`,
      },
      async (trx) => {
        if (existing) await updateEnvironment(trx, existing.id, row);
        else await insertEnvironment(trx, row);
        return { result: after, summary: { before: existing ? this.view(existing) : null, after } };
      },
    );
  }

  async remove(actor: Actor, project: string, name: string): Promise<void> {
    const projectId = await this.projectId(project);
    const e = (await this.rows(projectId)).find((r) => r.name === name);
    if (!e) throw new NotFound('environment', `${project}/${name}`);
    if (e.protected && !actor.isAdmin)
      throw new Forbidden(`environment "${project}/${name}" is protected: only an admin deletes it`);
    await refuseIfBound(this.db, `environment "${project}/${name}"`, { environmentId: e.id });
    await audited(
      this.db,
      actor,
      { action: 'environment.delete', objectType: 'environment', objectId: `${project}/${name}` },
      async (trx) => {
        await deleteEnvironment(trx, e.id);
        return { result: undefined, summary: { before: this.view(e) } };
      },
    );
  }

  async pipeline(project: string): Promise<Edge[]> {
    const projectId = await this.projectId(project);
    const rows = await pipelineEdges(this.db, projectId);
    return rows.sort((a, b) => a.fp - b.fp || a.tp - b.tp).map((r) => ({ from: r.from, to: r.to }));
  }

  /** Replaces the project's promotion edges. Every edge joins two different environments of this project. */
  async setPipeline(actor: Actor, project: string, edges: readonly Edge[]): Promise<Edge[]> {
    const projectId = await this.projectId(project);
    const envs = new Map((await this.rows(projectId)).map((r) => [r.name, r.id]));
    edges.forEach((e, i) => {
      if (e.from === e.to)
        throw new InvalidInput(`${e.from} → ${e.to}: an environment cannot promote into itself`, `edges[${i}]`);
      for (const end of [e.from, e.to]) {
        if (!envs.has(end))
          throw new InvalidInput(
            `project "${project}" has no environment "${end}" (edges stay inside one project)`,
            `edges[${i}]`,
          );
      }
    });
    const unique = [...new Map(edges.map((e) => [`${e.from}\u0000${e.to}`, e])).values()];
    const before = await this.pipeline(project);
    await audited(
      this.db,
      actor,
      { action: 'pipeline.set', objectType: 'pipeline', objectId: project },
      async (trx) => {
        await deletePipelineEdges(trx, projectId);
        for (const e of unique) {
          await insertPipelineEdge(trx, {
            id: newId(),
            project_id: projectId,
            from_env_id: envs.get(e.from) as string,
            to_env_id: envs.get(e.to) as string,
            created_at: new Date(),
          });
        }
        return { result: undefined, summary: { before, after: unique } };
      },
    );
    return this.pipeline(project);
  }

  /** Whether a promotion from → to is allowed by the project's pipeline. */
  async allows(project: string, from: string, to: string): Promise<boolean> {
    if (from === to) return false;
    return (await this.pipeline(project)).some((e) => e.from === from && e.to === to);
  }
}
