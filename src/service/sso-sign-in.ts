/**
 * Who a single sign-on is: the user found by the provider's issuer + subject (never by name, so an SSO account cannot
 * take over a local one), or created at the first sign-in (external, no password, named after `preferred_username`
 * unless that name is taken); their SSO-derived memberships replaced by what the groups claim gives now (an admin's
 * grants stay), hoist admin per the `*:admin` mappings, and the sign-in audited, in one transaction.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { Unauthenticated } from '../errors.ts';
import { insertUser } from '../store/accounts.repository.ts';
import { appendAudit } from '../store/audit.repository.ts';
import type { Schema } from '../store/schema.ts';
import {
  findExternalUser,
  projectIdsByName,
  replaceSsoMemberships,
  setAdmin,
  takenUsernames,
  type SsoConfigRow,
} from '../store/sso.repository.ts';
import { accessFor, groupsOf, usernameCandidates, type GroupRole } from './sso-mapping.ts';
import { newId } from './tokens.ts';

/** How a sign-in came (for the audit entry). */
export interface SignInHow {
  via: 'browser' | 'cli';
  requestId: string | null;
}

/**
 * Finds or creates the user, replaces their SSO-derived access, audits; retried once if a twin sign-in (the same new
 * user, or two new users wanting one name) raced it to the unique constraint.
 */
export async function signInExternalUser(
  db: Kysely<Schema>,
  row: SsoConfigRow,
  identity: { subject: string; claims: Record<string, unknown> },
  now: Date,
  how: SignInHow,
): Promise<{ id: string; username: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await signInOnce(db, row, identity, now, how);
    } catch (e) {
      if (attempt > 0 || !isUniqueViolation(e)) throw e;
    }
  }
}

async function signInOnce(
  db: Kysely<Schema>,
  row: SsoConfigRow,
  { subject, claims }: { subject: string; claims: Record<string, unknown> },
  now: Date,
  { via, requestId }: SignInHow,
): Promise<{ id: string; username: string }> {
  const mappings = row.group_roles as GroupRole[];
  const groups = groupsOf(claims, row.groups_claim);
  const access = accessFor(groups, mappings);
  const projects = await projectIdsByName(db, [...new Set(access.memberships.map((m) => m.project))]);
  const wanted = access.memberships.flatMap((m) => {
    const projectId = projects.get(m.project);
    return projectId === undefined ? [] : [{ projectId, project: m.project, role: m.role }];
  });
  const missingProjects = access.memberships.filter((m) => !projects.has(m.project)).map((m) => m.project);
  let user = await findExternalUser(db, row.issuer, subject);
  if (user?.disabled) throw new Unauthenticated('your hoist account is disabled; ask an admin');
  let username = user?.username;
  if (username === undefined) {
    const candidates = usernameCandidates(claims, row.issuer, subject);
    const taken = await takenUsernames(db, candidates);
    username =
      candidates.find((c) => !taken.has(c)) ?? `${candidates.at(-1) ?? 'sso'}-${randomBytes(3).toString('hex')}`;
  }
  const name = username;
  const wasAdmin = user?.isAdmin ?? null;
  return db.transaction().execute(async (trx) => {
    const created = user === undefined;
    if (!user) {
      const id = newId();
      const email = typeof claims.email === 'string' && claims.email.length <= 320 ? claims.email : null;
      await insertUser(trx, {
        id,
        username: name,
        // Not a password hash: no password ever matches it (passwords.ts reads only `scrypt$…`).
        password_hash: 'sso',
        is_admin: access.admin,
        disabled: false,
        created_at: now,
        email,
        external_issuer: row.issuer,
        external_subject: subject,
      });
      await appendAudit(trx, {
        actor: name,
        action: 'user.create',
        objectType: 'user',
        objectId: name,
        summary: { after: { username: name, isAdmin: access.admin, email, sso: { issuer: row.issuer, subject } } },
        requestId,
      });
      user = { id, username: name, disabled: false, isAdmin: access.admin };
    } else if (user.isAdmin !== access.admin) {
      await setAdmin(trx, user.id, access.admin);
    }
    const changed = await replaceSsoMemberships(trx, user.id, wanted, newId, now);
    const show = (m: { project: string; role: string }) => `${m.project}:${m.role}`;
    await appendAudit(trx, {
      actor: name,
      action: 'sso.sign-in',
      objectType: 'user',
      objectId: name,
      summary: {
        issuer: row.issuer,
        subject,
        via,
        created,
        groups: access.matched,
        admin: { before: wasAdmin, after: access.admin },
        added: changed.added.map(show),
        removed: changed.removed.map(show),
        ...(missingProjects.length > 0 ? { unknownProjects: [...new Set(missingProjects)] } : {}),
      },
      requestId,
    });
    return { id: user.id, username: name };
  });
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === '23505';
}
