/**
 * The deploy gate's attestation check (`hoist check-deploy --require-attestation`): reads, from the registry, the
 * attestations on the digest where it was promoted into the environment and judges their chain with this
 * installation's public keys (current and retired), exactly as `hoist verify` does with key files.
 */
import type { Kysely } from 'kysely';
import { openRepository } from '../oci/registry.ts';
import { lastPromotedInto } from '../store/promotion-attestations.repository.ts';
import type { Schema } from '../store/schema.ts';
import { parsePublicKey } from '../trust/keys.ts';
import type { HoistAttestation, NamedKey } from '../trust/promotion-chain.ts';
import { verifyPromotionChain } from '../trust/read-attestations.ts';
import type { Registries } from './registries.service.ts';
import type { SigningKeys } from './signing-keys.ts';

export interface AttestationVerdict {
  verified: boolean;
  reason: string;
  reference: string | null;
  chain: Array<{
    from: string;
    to: string;
    requestId: string;
    requestedBy: string;
    approvedBy: string[];
    policy: string | null;
    at: string;
    attestation: string;
  }>;
}

const hop = (a: HoistAttestation): AttestationVerdict['chain'][number] => ({
  from: a.promotion?.from.environment ?? '',
  to: a.promotion?.to.environment ?? '',
  requestId: a.promotion?.requestId ?? '',
  requestedBy: a.promotion?.requestedBy ?? '',
  approvedBy: (a.promotion?.approvals ?? []).map((x) => x.username),
  policy: a.promotion?.policy ? `${a.promotion.policy.name}@${a.promotion.policy.version}` : null,
  at: a.vsa?.timeVerified ?? '',
  attestation: a.manifest,
});

export class AttestationGate {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
    private readonly keys: SigningKeys,
  ) {}

  async check(project: string, environment: string, digest: string): Promise<AttestationVerdict> {
    const at = await lastPromotedInto(this.db, { project, environment, digest });
    if (!at)
      return { verified: false, reason: `${digest} was never promoted to ${environment}`, reference: null, chain: [] };
    const repository = at.repository.replaceAll('{app}', at.app);
    const host = await this.registries.open(at.registry);
    const keys: NamedKey[] = [];
    for (const k of await this.keys.list()) {
      const parsed = parsePublicKey(k.publicKey);
      if (parsed.ok) keys.push({ name: k.keyId, key: parsed.value });
    }
    const report = await verifyPromotionChain(openRepository(host, repository), digest, keys, environment);
    return {
      verified: report.verdict.ok,
      reason: report.verdict.ok
        ? `signed promotions ${report.verdict.chain.map((a) => a.promotion?.from.environment).join(' → ')} → ${environment}`
        : report.verdict.reason,
      reference: `${host.transport.host}/${repository}@${digest}`,
      chain: report.verdict.chain.map(hop),
    };
  }
}
