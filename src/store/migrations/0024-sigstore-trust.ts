/**
 * Trust roots that name a Sigstore identity (issue 12): the OIDC issuer and certificate subject a bundle's
 * certificate must carry, each exact or an RE2 pattern (`sigstore`), and the trusted root its certificates must chain
 * to (`trusted_root`, Sigstore's trusted_root.json as the owner gave it). Such a root has no public key. Artifacts
 * registered before migration 0016 have no evidence kept; they are read again from their registry the next time the
 * project's roots change (see src/service/trust.service.ts).
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  `ALTER TABLE trust_roots ALTER COLUMN public_key DROP NOT NULL`,
  `ALTER TABLE trust_roots ADD COLUMN sigstore jsonb`,
  `ALTER TABLE trust_roots ADD COLUMN trusted_root text`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}
