/**
 * Reads the promotion attestations attached to a digest straight from its registry (the referrers API or the
 * `sha256-<hex>` fallback index; the evidence reader is the one signature verification uses) and judges the chain
 * into an environment with the given public keys. `hoist verify` calls it with key files and no hoist server; the
 * deploy gate calls it with the installation's own keys.
 */
import type { RepositoryClient } from '../oci/registry-client.ts';
import {
  checkAttestations,
  chainInto,
  type ChainVerdict,
  type HoistAttestation,
  type NamedKey,
} from './promotion-chain.ts';
import { readEvidence } from './read-evidence.ts';

export interface AttestationReport {
  digest: string;
  attestations: HoistAttestation[];
  verdict: ChainVerdict;
}

export async function verifyPromotionChain(
  repo: RepositoryClient,
  digest: string,
  keys: readonly NamedKey[],
  environment: string,
  signal?: AbortSignal,
): Promise<AttestationReport> {
  const referrers = await repo.referrers(digest, signal);
  const evidence = await readEvidence(repo, digest, referrers, signal);
  const envelopes = evidence.flatMap((e) =>
    e.kind === 'dsse' ? [{ manifest: e.manifest, envelope: e.envelope }] : [],
  );
  const attestations = checkAttestations(envelopes, digest, keys);
  return { digest, attestations, verdict: chainInto(attestations, environment) };
}
