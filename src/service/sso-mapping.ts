/**
 * From what the OpenID provider says about a user to what they may do in hoist, as pure functions: the admin's
 * `group:project:role` mappings (parsed and checked), the groups claim read leniently (a list, or one string), the
 * access those groups give, and the user name a new external user gets (never an existing one: an SSO identity is
 * found by issuer + subject only, so nobody takes over a local account by choosing its name at the provider).
 */
import { createHash } from 'node:crypto';
import type { Result } from '../result.ts';
import type { ProjectRole } from '../store/schema.ts';
import { NAME } from './names.ts';

export const PROJECT_ROLES: readonly ProjectRole[] = ['owner', 'promoter', 'developer', 'viewer'];

/** One mapping: members of `group` get `role` in `project`; `{project: '*', role: 'admin'}` makes hoist admins. */
export interface GroupRole {
  group: string;
  project: string;
  role: ProjectRole | 'admin';
}

/**
 * Reads `team-a:shop:promoter` (or `ops:*:admin`). The project and role are the last two parts, so a group may
 * itself contain ":" (`cn=ops:eu:shop:viewer` is group `cn=ops:eu`).
 */
export function parseGroupRole(text: string): Result<GroupRole> {
  const parts = text.split(':');
  const role = parts.pop();
  const project = parts.pop();
  const group = parts.join(':');
  if (role === undefined || project === undefined || group === '')
    return { ok: false, error: `"${text}" is not GROUP:PROJECT:ROLE (e.g. team-a:shop:promoter or ops:*:admin)` };
  if (project === '*') {
    if (role !== 'admin')
      return { ok: false, error: `"${text}": project "*" goes only with role admin (hoist admins), not ${role}` };
    return { ok: true, value: { group, project, role: 'admin' } };
  }
  if (role === 'admin')
    return { ok: false, error: `"${text}": admin is not a project role; use GROUP:*:admin for hoist admins` };
  if (!NAME.test(project)) return { ok: false, error: `"${text}": "${project}" is not a project name` };
  if (!PROJECT_ROLES.includes(role as ProjectRole))
    return { ok: false, error: `"${text}": the role must be one of ${PROJECT_ROLES.join(', ')} (or admin with *)` };
  return { ok: true, value: { group, project, role: role as ProjectRole } };
}

export const formatGroupRole = (m: GroupRole): string => `${m.group}:${m.project}:${m.role}`;

/** The groups claim as a list: an array of strings, or one string (space- or comma-separated), else none. */
export function groupsOf(claims: Record<string, unknown>, claim: string): string[] {
  const value = claims[claim];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((g) => g !== '');
  return [];
}

export interface Access {
  admin: boolean;
  /** Each (project, role) once, in mapping order. */
  memberships: Array<{ project: string; role: ProjectRole }>;
  /** The groups that matched a mapping (for the audit entry). */
  matched: string[];
}

/** What these groups give under these mappings. */
export function accessFor(groups: readonly string[], mappings: readonly GroupRole[]): Access {
  const member = new Set(groups);
  const access: Access = { admin: false, memberships: [], matched: [] };
  const seen = new Set<string>();
  for (const m of mappings) {
    if (!member.has(m.group)) continue;
    if (!access.matched.includes(m.group)) access.matched.push(m.group);
    if (m.role === 'admin') {
      access.admin = true;
      continue;
    }
    const key = `${m.project}/${m.role}`;
    if (seen.has(key)) continue;
    seen.add(key);
    access.memberships.push({ project: m.project, role: m.role });
  }
  return access;
}

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * User names to try for a new external user, best first: the provider's `preferred_username`, the local part of
 * `email`, then `sso-<hash of issuer and subject>` (always free in practice; the caller adds a suffix if not).
 */
export function usernameCandidates(claims: Record<string, unknown>, issuer: string, subject: string): string[] {
  const clean = (v: unknown): string | undefined => {
    if (typeof v !== 'string') return undefined;
    const name = v
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 63);
    return USERNAME.test(name) ? name : undefined;
  };
  const email = typeof claims.email === 'string' ? claims.email.split('@')[0] : undefined;
  const hashed = `sso-${createHash('sha256').update(`${issuer}\n${subject}`).digest('hex').slice(0, 12)}`;
  return [...new Set([clean(claims.preferred_username), clean(email), hashed].filter((n) => n !== undefined))];
}
