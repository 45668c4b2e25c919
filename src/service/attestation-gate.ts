/**
 * The deploy gate's attestation check (`hoist check-deploy --require-attestation`): reads, from the registry, the
 * attestations on the digest where it was promoted into the environment (a single promotion's image or one of a
 * release's) and judges their chain with this installation's public keys (current and retired), exactly as `hoist
 * verify` does with key files. While the attestation is still pending (attached right after PROMOTED by its own job)
 * or failed, the gate refuses and says so, without reading the registry.
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
      return {
        verified: false,
        reason: `${digest} was never promoted to ${environment} with an attestation (never promoted there, or promoted with HOIST_ATTESTATIONS=off)`,
        reference: null,
        chain: [],
      };
    const repository = at.repository;
    const host = await this.registries.open(at.registry);
    // Attached by a follow-up job right after PROMOTED: until it is, the deploy must wait (or it failed: say why).
    if (at.state !== 'ATTACHED') {
      const why = at.last_error ? `: ${at.last_error}` : '';
      return {
        verified: false,
        reason:
          at.state === 'FAILED'
            ? `the attestation of ${digest} in ${environment} could not be attached (after ${at.attempts} attempts)${why}; hoist does not retry it by itself`
            : `the attestation of ${digest} in ${environment} is pending: promoted, but not attached yet (attempt ${at.attempts})${why}; try again shortly`,
        reference: `${host.transport.host}/${repository}@${digest}`,
        chain: [],
      };
    }
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
