/**
 * What a route requires, declared on every route (a route without one is refused at start), and the check against
 * an identity. Project roles: owner ⊇ promoter, developer ⊇ viewer; a role may be limited to some environments.
 */
import { Forbidden, Unauthenticated } from '../errors.ts';
import type { Identity, ProjectRole } from '../service/identity.ts';

export type Permission =
  | { kind: 'public' }
  /** No user: the handler checks a registry's shared hook secret (push events). */
  | { kind: 'hook' }
  | { kind: 'authenticated' }
  | { kind: 'admin' }
  /** Any of `roles` on the project named by the route's `:project` parameter (admins always pass). */
  | { kind: 'project'; roles: readonly ProjectRole[] };

export const PUBLIC: Permission = { kind: 'public' };
export const HOOK: Permission = { kind: 'hook' };
export const AUTHENTICATED: Permission = { kind: 'authenticated' };
export const ADMIN: Permission = { kind: 'admin' };
export const projectRole = (...roles: ProjectRole[]): Permission => ({ kind: 'project', roles });
/** Every project role may read. */
export const PROJECT_READ = projectRole('owner', 'promoter', 'developer', 'viewer');

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
