/**
 * What the caller lacks for an action, as the text a disabled button shows ("the owner role for prod"), or null when
 * they may. Mirrors the server's permissions (src/api/permissions.ts): admins may do everything; a project role may
 * be limited to some environments. The server checks again; this only keeps buttons honest.
 */
import type { Me, Membership } from '../session.tsx';

type Role = Membership['role'];

export function needsRole(me: Me, project: string, roles: readonly Role[], environment?: string): string | null {
  if (me.isAdmin) return null;
  const fits = me.memberships.some(
    (m) =>
      m.project === project &&
      roles.includes(m.role) &&
      (environment === undefined || m.environments === null || m.environments.includes(environment)),
  );
  if (fits) return null;
  const names =
    roles.length === 1 ? `the ${roles[0]} role` : `the ${roles.slice(0, -1).join(', ')} or ${roles.at(-1)} role`;
  return environment === undefined ? `${names} in ${project}` : `${names} for ${environment} in ${project}`;
}

export const needsAdmin = (me: Me): string | null => (me.isAdmin ? null : 'the admin role');
