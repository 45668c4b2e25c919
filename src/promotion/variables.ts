/**
 * The policy variables of an artifact moving from one environment to another at someone's request: what policies
 * and automation rules evaluate. Signature presence is read from the attached referrers' artifact types (unverified);
 * the verified signers, attestations and provenance from the verdict kept with the artifact (src/trust).
 */
import { policyVariables } from '../policy/inputs.ts';
import type { ArtifactFacts } from './context.ts';

export const SIGNATURE_TYPES = [
  'application/vnd.dev.cosign.artifact.sig.v1+json',
  'application/vnd.cncf.notary.signature',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
];

export function artifactVariables(
  artifact: ArtifactFacts,
  from: string,
  to: string,
  user: string,
  now: Date,
): Record<string, unknown> {
  return policyVariables({
    image: {
      repository: artifact.repository,
      tag: artifact.tag ?? '',
      digest: artifact.digest,
      labels: artifact.labels,
      annotations: artifact.annotations,
      created: artifact.created ? new Date(artifact.created) : null,
      platforms: artifact.platforms,
    },
    build: artifact.build,
    scan: artifact.scan,
    sbom: artifact.sbom,
    signaturePresent: artifact.referrers.some(
      (r) => r.artifactType !== null && SIGNATURE_TYPES.includes(r.artifactType),
    ),
    trust: artifact.trust ?? null,
    source: from,
    target: to,
    user,
    now,
  });
}

/** The variables as stored with a target (JSON; CEL integers are bigints). */
export const storableVariables = (vars: Record<string, unknown>): string =>
  JSON.stringify(vars, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
