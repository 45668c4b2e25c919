/**
 * Who a credential belongs to, in one statement: the token or session (active: not revoked, not expired), its user
 * (enabled) and the user's project memberships. Every API request asks this first; as four queries (credential, a
 * write of the token's last use, user, memberships) it was most of the database work of a simple GET, and under load
 * each of them waited its turn behind the promotions' transactions (`npm run bench:load`).
 */
import { sql, type Kysely } from 'kysely';
import type { Membership, Schema } from './schema.ts';

export interface CredentialOwner {
  userId: string;
  username: string;
  isAdmin: boolean;
  memberships: Membership[];
  /** The token's id and when it was last used (tokens only); the session's CSRF token (sessions only). */
  tokenId?: string;
  lastUsedAt?: Date | null;
  csrfToken?: string;
  /** When the token or session expires (null: a token that never does), so a caller that keeps the answer stops
   * using it then. */
  expiresAt: Date | null;
}

interface Row {
  user_id: string;
  username: string;
  is_admin: boolean;
  memberships: unknown;
  token_id?: string;
  last_used_at?: Date | null;
  csrf_token?: string;
  expires_at: Date | null;
}

const parsed = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

function owner(r: Row): CredentialOwner {
  const memberships = (parsed(r.memberships) as Array<Membership & { environments: unknown }>).map((m) => ({
    project: m.project,
    role: m.role,
    environments: parsed(m.environments) as string[] | null,
  }));
  return {
    userId: r.user_id,
    username: r.username,
    isAdmin: r.is_admin,
    memberships,
    expiresAt: r.expires_at,
    ...(r.token_id !== undefined ? { tokenId: r.token_id, lastUsedAt: r.last_used_at ?? null } : {}),
    ...(r.csrf_token !== undefined ? { csrfToken: r.csrf_token } : {}),
  };
}

const MEMBERSHIPS = sql<unknown>`(
  SELECT coalesce(json_agg(json_build_object('project', p.name, 'role', m.role, 'environments', m.environments)), '[]')
  FROM memberships m JOIN projects p ON p.id = m.project_id
  WHERE m.user_id = u.id
)`;

/** The owner of an active API token (by the hash of its secret), if the token and its user are active. */
export async function tokenOwner(db: Kysely<Schema>, hash: string, now: Date): Promise<CredentialOwner | undefined> {
  const r = await sql<Row>`
    SELECT u.id AS user_id, u.username, u.is_admin, ${MEMBERSHIPS} AS memberships,
           t.id AS token_id, t.last_used_at, t.expires_at
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = ${hash} AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ${now})
      AND NOT u.disabled`.execute(db);
  return r.rows[0] ? owner(r.rows[0]) : undefined;
}

/** The owner of an active browser session (by the hash of its secret), if the session and its user are active. */
export async function sessionOwner(db: Kysely<Schema>, hash: string, now: Date): Promise<CredentialOwner | undefined> {
  const r = await sql<Row>`
    SELECT u.id AS user_id, u.username, u.is_admin, ${MEMBERSHIPS} AS memberships, s.csrf_token, s.expires_at
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = ${hash} AND s.expires_at > ${now} AND NOT u.disabled`.execute(db);
  return r.rows[0] ? owner(r.rows[0]) : undefined;
}
