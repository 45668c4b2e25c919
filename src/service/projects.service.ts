/**
 * Projects, their applications (an application is an image name such as `web`) and their members (a role, perhaps
 * limited to some environments). Every change is audited.
 */
import type { Kysely, Selectable } from 'kysely';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.ts';
import { refuseIfBound } from './binding-guard.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import type { ProjectRole } from './identity.ts';
import { newId } from './tokens.ts';
import { NAME } from './names.ts';
import { paged, toPage, type Page, type PageQuery } from './page.ts';

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

const view = (r: Selectable<Schema['projects']>): ProjectView => ({
  name: r.name,
  description: r.description,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export class Projects {
  constructor(private readonly db: Kysely<Schema>) {}

  async list(visibleTo: readonly string[] | undefined, p: PageQuery = {}): Promise<Page<ProjectView>> {
    let q = this.db.selectFrom('projects').selectAll();
    if (visibleTo !== undefined) {
      if (visibleTo.length === 0) return { items: [], nextCursor: null };
      q = q.where('name', 'in', visibleTo);
    }
    return toPage((await paged(q, 'name', p).execute()).map(view), p, (r) => r.name);
  }

  async row(name: string): Promise<Selectable<Schema['projects']>> {
    const r = await this.db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
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
    const existing = await this.db.selectFrom('projects').selectAll().where('name', '=', input.name).executeTakeFirst();
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
        if (existing) await trx.updateTable('projects').set(row).where('id', '=', existing.id).execute();
        else await trx.insertInto('projects').values(row).execute();
        return { result: view(row), summary: { before: existing ? view(existing) : null, after: view(row) } };
      },
    );
  }

  async remove(actor: Actor, name: string): Promise<void> {
    const p = await this.row(name);
    const guarded = await this.db
      .selectFrom('environments')
      .select('name')
      .where('project_id', '=', p.id)
      .where('protected', '=', true)
      .execute();
    if (guarded.length > 0 && !actor.isAdmin)
      throw new Forbidden(
        `project "${name}" has protected environments (${guarded.map((e) => e.name).join(', ')}): only an admin deletes it`,
      );
    await refuseIfBound(this.db, `project "${name}"`, { projectId: p.id });
    await audited(this.db, actor, { action: 'project.delete', objectType: 'project', objectId: name }, async (trx) => {
      await trx.deleteFrom('projects').where('id', '=', p.id).execute();
      return { result: undefined, summary: { before: view(p) } };
    });
  }

  async applications(project: string): Promise<string[]> {
    const p = await this.row(project);
    return (
      await this.db.selectFrom('applications').select('name').where('project_id', '=', p.id).orderBy('name').execute()
    ).map((r) => r.name);
  }

  async addApplication(actor: Actor, project: string, name: string): Promise<void> {
    if (!APP_NAME.test(name))
      throw new InvalidInput(
        'an application is an image name: lower-case letters and digits separated by ".", "_", "__" or "-"',
        'name',
      );
    const p = await this.row(project);
    const exists = await this.db
      .selectFrom('applications')
      .select('id')
      .where('project_id', '=', p.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (exists) return;
    await audited(
      this.db,
      actor,
      { action: 'application.create', objectType: 'application', objectId: `${project}/${name}` },
      async (trx) => {
        await trx
          .insertInto('applications')
          .values({ id: newId(), project_id: p.id, name, created_at: new Date() })
          .execute();
        return { result: undefined, summary: { after: { project, name } } };
      },
    );
  }

  async removeApplication(actor: Actor, project: string, name: string): Promise<void> {
    const p = await this.row(project);
    const a = await this.db
      .selectFrom('applications')
      .select('id')
      .where('project_id', '=', p.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!a) throw new NotFound('application', `${project}/${name}`);
    await refuseIfBound(this.db, `application "${project}/${name}"`, { applicationId: a.id });
    await audited(
      this.db,
      actor,
      { action: 'application.delete', objectType: 'application', objectId: `${project}/${name}` },
      async (trx) => {
        await trx.deleteFrom('applications').where('id', '=', a.id).execute();
        return { result: undefined, summary: { before: { project, name } } };
      },
    );
  }

  async members(project: string): Promise<MemberView[]> {
    const p = await this.row(project);
    const rows = await this.db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['users.username as username', 'memberships.role as role', 'memberships.environments as environments'])
      .where('memberships.project_id', '=', p.id)
      .orderBy('users.username')
      .execute();
    return rows.map((r) => ({
      username: r.username,
      role: r.role,
      environments: (typeof r.environments === 'string' ? JSON.parse(r.environments) : r.environments) as
        string[] | null,
    }));
  }

  /** Grants `role` (limited to `environments` when given); granting the same role again replaces its limits. */
  async grant(actor: Actor, project: string, m: MemberView): Promise<void> {
    if (!ROLES.includes(m.role)) throw new InvalidInput(`one of ${ROLES.join(', ')}`, 'role');
    const p = await this.row(project);
    const user = await this.db.selectFrom('users').select('id').where('username', '=', m.username).executeTakeFirst();
    if (!user) throw new NotFound('user', m.username);
    if (m.environments !== null) {
      const known = new Set(
        (await this.db.selectFrom('environments').select('name').where('project_id', '=', p.id).execute()).map(
          (e) => e.name,
        ),
      );
      const unknown = m.environments.filter((e) => !known.has(e));
      if (unknown.length > 0)
        throw new InvalidInput(`project "${project}" has no environment ${unknown.join(', ')}`, 'environments');
    }
    await audited(this.db, actor, { action: 'member.grant', objectType: 'project', objectId: project }, async (trx) => {
      await trx
        .deleteFrom('memberships')
        .where('project_id', '=', p.id)
        .where('user_id', '=', user.id)
        .where('role', '=', m.role)
        .execute();
      await trx
        .insertInto('memberships')
        .values({
          id: newId(),
          project_id: p.id,
          user_id: user.id,
          role: m.role,
          environments: m.environments === null ? null : JSON.stringify(m.environments),
          created_at: new Date(),
        })
        .execute();
      return { result: undefined, summary: { after: m } };
    });
  }

  async revoke(actor: Actor, project: string, username: string, role: ProjectRole): Promise<void> {
    const p = await this.row(project);
    const user = await this.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
    if (!user) throw new NotFound('user', username);
    await audited(
      this.db,
      actor,
      { action: 'member.revoke', objectType: 'project', objectId: project },
      async (trx) => {
        const r = await trx
          .deleteFrom('memberships')
          .where('project_id', '=', p.id)
          .where('user_id', '=', user.id)
          .where('role', '=', role)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) throw new NotFound('membership', `${username} as ${role} in ${project}`);
        return { result: undefined, summary: { before: { username, role } } };
      },
    );
  }
}
