/**
 * Projects, their applications (an application is an image name such as `web`) and their members (a role, perhaps
 * limited to some environments). Every change is audited.
 */
import type { Kysely } from 'kysely';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.ts';
import { refuseIfBound } from './binding-guard.ts';
import { userIdByName } from '../store/accounts.repository.ts';
import {
  applicationIdByName,
  applicationNames,
  deleteApplication,
  insertApplication,
} from '../store/applications.repository.ts';
import { environmentNames } from '../store/environments.repository.ts';
import { deleteMembership, insertMembership, listMembers } from '../store/memberships.repository.ts';
import {
  deleteProject,
  findProjectByName,
  insertProject,
  listProjects,
  updateProject,
  type ProjectRow,
} from '../store/projects.repository.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import type { ProjectRole } from './identity.ts';
import { newId } from './tokens.ts';
import { NAME } from './names.ts';
import { toPage, type Page, type PageQuery } from './page.ts';

/** An application is an image name: lower-case path components as in a repository path. */
export const APP_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const ROLES: readonly ProjectRole[] = ['owner', 'promoter', 'developer', 'viewer'];

export interface ProjectView {
  name: string;
  description: string;
  createdAt: string;
  updatedAt: string;
}

export interface MemberView {
  username: string;
  role: ProjectRole;
  environments: string[] | null;
}

const view = (r: ProjectRow): ProjectView => ({
  name: r.name,
  description: r.description,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export class Projects {
  constructor(private readonly db: Kysely<Schema>) {}

  async list(visibleTo: readonly string[] | undefined, p: PageQuery = {}): Promise<Page<ProjectView>> {
    if (visibleTo !== undefined && visibleTo.length === 0) return { items: [], nextCursor: null };
    return toPage((await listProjects(this.db, visibleTo, p)).map(view), p, (r) => r.name);
  }

  async row(name: string): Promise<ProjectRow> {
    const r = await findProjectByName(this.db, name);
    if (!r) throw new NotFound('project', name);
    return r;
  }

  async get(name: string): Promise<ProjectView> {
    return view(await this.row(name));
  }

  async put(
    actor: Actor,
    input: { name: string; description?: string },
    mode: 'create' | 'upsert',
  ): Promise<ProjectView> {
    if (!NAME.test(input.name)) throw new InvalidInput('use 1-63 lower-case letters, digits and "-"', 'name');
    const existing = await findProjectByName(this.db, input.name);
    if (existing && mode === 'create') throw new Conflict(`project "${input.name}" exists already`);
    const now = new Date();
    const row = {
      id: existing?.id ?? newId(),
      name: input.name,
      description: input.description ?? existing?.description ?? '',
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    return audited(
      this.db,
      actor,
      { action: existing ? 'project.update' : 'project.create', objectType: 'project', objectId: input.name },
      async (trx) => {
        if (existing) await updateProject(trx, existing.id, row);
        else await insertProject(trx, row);
        return { result: view(row), summary: { before: existing ? view(existing) : null, after: view(row) } };
      },
    );
  }

  async remove(actor: Actor, name: string): Promise<void> {
    const p = await this.row(name);
    const guarded = await environmentNames(this.db, p.id, { protectedOnly: true });
    if (guarded.length > 0 && !actor.isAdmin)
      throw new Forbidden(
        `project "${name}" has protected environments (${guarded.join(', ')}): only an admin deletes it`,
      );
    await refuseIfBound(this.db, `project "${name}"`, { projectId: p.id });
    await audited(this.db, actor, { action: 'project.delete', objectType: 'project', objectId: name }, async (trx) => {
      await deleteProject(trx, p.id);
      return { result: undefined, summary: { before: view(p) } };
    });
  }

  async applications(project: string): Promise<string[]> {
    const p = await this.row(project);
    return applicationNames(this.db, p.id);
  }

  async addApplication(actor: Actor, project: string, name: string): Promise<void> {
    if (!APP_NAME.test(name))
      throw new InvalidInput(
        'an application is an image name: lower-case letters and digits separated by ".", "_", "__" or "-"',
        'name',
      );
    const p = await this.row(project);
    if ((await applicationIdByName(this.db, p.id, name)) !== undefined) return;
    await audited(
      this.db,
      actor,
      { action: 'application.create', objectType: 'application', objectId: `${project}/${name}` },
      async (trx) => {
        await insertApplication(trx, { id: newId(), project_id: p.id, name, created_at: new Date() });
        return { result: undefined, summary: { after: { project, name } } };
      },
    );
  }

  async removeApplication(actor: Actor, project: string, name: string): Promise<void> {
    const p = await this.row(project);
    const applicationId = await applicationIdByName(this.db, p.id, name);
    if (applicationId === undefined) throw new NotFound('application', `${project}/${name}`);
    await refuseIfBound(this.db, `application "${project}/${name}"`, { applicationId });
    await audited(
      this.db,
      actor,
      { action: 'application.delete', objectType: 'application', objectId: `${project}/${name}` },
      async (trx) => {
        await deleteApplication(trx, applicationId);
        return { result: undefined, summary: { before: { project, name } } };
      },
    );
  }

  async members(project: string): Promise<MemberView[]> {
    const p = await this.row(project);
    return listMembers(this.db, p.id);
  }

  /** Grants `role` (limited to `environments` when given); granting the same role again replaces its limits. */
  async grant(actor: Actor, project: string, m: MemberView): Promise<void> {
    if (!ROLES.includes(m.role)) throw new InvalidInput(`one of ${ROLES.join(', ')}`, 'role');
    const p = await this.row(project);
    const userId = await userIdByName(this.db, m.username);
    if (userId === undefined) throw new NotFound('user', m.username);
    if (m.environments !== null) {
      const known = new Set(await environmentNames(this.db, p.id));
      const unknown = m.environments.filter((e) => !known.has(e));
      if (unknown.length > 0)
        throw new InvalidInput(`project "${project}" has no environment ${unknown.join(', ')}`, 'environments');
    }
    await audited(this.db, actor, { action: 'member.grant', objectType: 'project', objectId: project }, async (trx) => {
      await deleteMembership(trx, { projectId: p.id, userId, role: m.role });
      await insertMembership(trx, {
        id: newId(),
        project_id: p.id,
        user_id: userId,
        role: m.role,
        environments: m.environments === null ? null : JSON.stringify(m.environments),
        created_at: new Date(),
      });
      return { result: undefined, summary: { after: m } };
    });
  }

  async revoke(actor: Actor, project: string, username: string, role: ProjectRole): Promise<void> {
    const p = await this.row(project);
    const userId = await userIdByName(this.db, username);
    if (userId === undefined) throw new NotFound('user', username);
    await audited(
      this.db,
      actor,
      { action: 'member.revoke', objectType: 'project', objectId: project },
      async (trx) => {
        if (!(await deleteMembership(trx, { projectId: p.id, userId, role })))
          throw new NotFound('membership', `${username} as ${role} in ${project}`);
        return { result: undefined, summary: { before: { username, role } } };
      },
    );
  }
}
