/**
 * What a route requires, declared on every route (a route without one is refused at start), and the check against
 * an identity. Project roles: owner ⊇ promoter, developer ⊇ viewer; a role may be limited to some environments.
 *
 * A write that concerns environments says which ones (`environments`): a parameter, a body field, the environments a
 * stored object names, or `all` for project-wide changes (members, pipeline, applications, webhooks). The caller then
 * needs one of the roles on the project *covering every one of them* (a role limited to `staging` covers only
 * `staging`; an unlimited role covers all). This is the one place that check is made; the server makes it on the body
 * as sent and again on the body as validated (coerced), which is what the route reads.
 */
import { Forbidden, Unauthenticated } from '../errors.ts';
import type { Identity, Membership, ProjectRole } from '../service/identity.ts';
import type { Services } from './context.ts';

/** What a request carries, as the environment scope reads it (the body as sent: not yet validated). */
export interface ScopedRequest {
  params: Record<string, string>;
  body: unknown;
}

export type EnvironmentScope =
  /** Every environment of the project: only an unlimited role passes. */
  | { kind: 'all' }
  /** The environment named by a route parameter. */
  | { kind: 'param'; name: string }
  /** The environment(s) named by a body field (a string or a list of strings). */
  | { kind: 'body'; field: string }
  /** The environments a stored object concerns (e.g. a rule's target); [] when it does not exist (the route 404s). */
  | { kind: 'lookup'; what: string; find: (s: Services, req: ScopedRequest) => Promise<readonly string[]> };

export type Permission =
  | { kind: 'public' }
  /** No user: the handler checks a registry's shared hook secret (push events). */
  | { kind: 'hook' }
  | { kind: 'authenticated' }
  | { kind: 'admin' }
  /** Any of `roles` on the project named by the route's `:project` parameter (admins always pass). */
  | { kind: 'project'; roles: readonly ProjectRole[]; environments?: EnvironmentScope };

export const PUBLIC: Permission = { kind: 'public' };
export const HOOK: Permission = { kind: 'hook' };
export const AUTHENTICATED: Permission = { kind: 'authenticated' };
export const ADMIN: Permission = { kind: 'admin' };
export const projectRole = (...roles: ProjectRole[]): Permission => ({ kind: 'project', roles });
/** Every project role may read. */
export const PROJECT_READ = projectRole('owner', 'promoter', 'developer', 'viewer');

export const ALL_ENVIRONMENTS: EnvironmentScope = { kind: 'all' };
export const envParam = (name = 'env'): EnvironmentScope => ({ kind: 'param', name });
export const envBody = (field: string): EnvironmentScope => ({ kind: 'body', field });

/** The same roles, limited to the environments a request concerns. */
export function forEnvironments(permission: Permission, environments: EnvironmentScope): Permission {
  if (permission.kind !== 'project') throw new Error('only a project permission is scoped to environments');
  return { ...permission, environments };
}

/** An owner of the whole project (a role limited to some environments does not pass): project-wide settings. */
export const PROJECT_OWNER = forEnvironments(projectRole('owner'), ALL_ENVIRONMENTS);

export function authorize(
  permission: Permission,
  identity: Identity | undefined,
  params: Record<string, string>,
): void {
  if (permission.kind === 'public' || permission.kind === 'hook') return;
  if (!identity) throw new Unauthenticated('sign in or send an API token (Authorization: Bearer …)');
  switch (permission.kind) {
    case 'authenticated':
      return;
    case 'admin':
      if (!identity.isAdmin) throw new Forbidden('this needs the admin role');
      return;
    case 'project': {
      if (identity.isAdmin) return;
      const project = params.project;
      const ok = identity.memberships.some((m) => m.project === project && permission.roles.includes(m.role));
      if (!ok)
        throw new Forbidden(`this needs one of the roles ${permission.roles.join(', ')} on project "${project ?? ''}"`);
      return;
    }
  }
}

/** The projects whose data a caller may list: undefined (all) for admins, else their memberships' projects. */
export function visibleProjects(identity: Identity | undefined): readonly string[] | undefined {
  if (identity?.isAdmin) return undefined;
  return [...new Set((identity?.memberships ?? []).map((m) => m.project))];
}

/** The environments a request concerns, per the route's scope; 'all' for project-wide changes. */
export async function scopedEnvironments(
  scope: EnvironmentScope,
  services: Services,
  req: ScopedRequest,
): Promise<readonly string[] | 'all'> {
  switch (scope.kind) {
    case 'all':
      return 'all';
    case 'param': {
      const value = req.params[scope.name];
      return value === undefined ? [] : [value];
    }
    case 'body': {
      const value = (req.body as Record<string, unknown> | null | undefined)?.[scope.field];
      if (typeof value === 'string') return [value];
      return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
    }
    case 'lookup':
      return scope.find(services, req);
  }
}

const covers = (m: Membership, environment: string | 'all'): boolean =>
  m.environments === null || (environment !== 'all' && m.environments.includes(environment));

/**
 * After `authorize`: a project permission with an environment scope also needs a role covering every environment
 * the request concerns. One membership per environment is enough (a promoter of staging who is also an owner of prod
 * may change both).
 */
export async function authorizeEnvironments(
  permission: Permission,
  identity: Identity | undefined,
  services: Services,
  req: ScopedRequest,
): Promise<void> {
  if (permission.kind !== 'project' || permission.environments === undefined) return;
  if (!identity || identity.isAdmin) return;
  const project = req.params.project;
  const roles = identity.memberships.filter((m) => m.project === project && permission.roles.includes(m.role));
  const wanted = await scopedEnvironments(permission.environments, services, req);
  for (const environment of wanted === 'all' ? (['all'] as const) : wanted) {
    if (!roles.some((m) => covers(m, environment))) {
      const limits = [...new Set(roles.flatMap((m) => m.environments ?? []))].join(', ');
      throw new Forbidden(
        environment === 'all'
          ? `this changes every environment of project "${project ?? ''}": it needs one of the roles ${permission.roles.join(', ')} without an environment limit (yours covers ${limits})`
          : `environment "${environment}" of project "${project ?? ''}" needs one of the roles ${permission.roles.join(', ')} for that environment (yours covers ${limits})`,
      );
    }
  }
}
