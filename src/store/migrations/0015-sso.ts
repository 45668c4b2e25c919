/**
 * Single sign-on with OpenID Connect: the one provider an admin configured (its client secret sealed like registry
 * credentials), users who sign in through it (found by issuer + subject, never by name, and with no password), where
 * each membership came from (`local`: granted by an admin, kept; `sso`: derived from the provider's groups claim,
 * replaced at every sign-in), the authorization requests in flight (state, nonce and PKCE verifier kept here, so any
 * replica can finish a flow another one started; single use, short-lived) and the one-time codes that hand the CLI
 * an API token after a loopback-redirect sign-in.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `CREATE TABLE sso_config (
    id text PRIMARY KEY CHECK (id = 'default'),
    issuer text NOT NULL,
    client_id text NOT NULL,
    secret_enc text,
    display_name text NOT NULL,
    scopes text NOT NULL,
    groups_claim text NOT NULL,
    group_roles jsonb NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL
  )`,
  `ALTER TABLE users ADD COLUMN external_issuer text`,
  `ALTER TABLE users ADD COLUMN external_subject text`,
  `ALTER TABLE users ADD CONSTRAINT users_external_identity UNIQUE (external_issuer, external_subject)`,
  `ALTER TABLE memberships ADD COLUMN source text NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'sso'))`,
  `CREATE TABLE sso_flows (
    state_hash text PRIMARY KEY,
    binding_hash text NOT NULL,
    nonce text NOT NULL,
    code_verifier text NOT NULL,
    return_to text NOT NULL,
    redirect_uri text NOT NULL,
    cli_redirect text,
    cli_challenge text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
  )`,
  `CREATE INDEX sso_flows_expires ON sso_flows (expires_at)`,
  `CREATE TABLE sso_cli_codes (
    code_hash text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    challenge text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
