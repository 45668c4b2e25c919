/**
 * Building the variable values a policy sees from what hoist knows about an image and a request, including the
 * Devtron aliases. Counts become CEL ints (bigint); times are Dates (CEL timestamps). The same object is stored with
 * each evaluation, so a verdict can be explained later.
 */

export interface PolicyInput {
  image: {
    repository: string;
    tag: string;
    digest: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    created?: Date | null;
    platforms?: string[];
  };
  build?: { branch?: string; commit?: string; builder?: string; ciUrl?: string };
  scan?: { critical: number; high: number; medium: number; low: number } | null;
  sbom?: { licenses: string[]; components: string[] } | null;
  /** Some referrer has a signature's artifact type: unverified, anyone who can push can attach one. */
  signaturePresent?: boolean;
  /** The verdict on the attached signatures and attestations against the project's trust roots. */
  trust?: {
    verified: boolean;
    signers: string[];
    attestations: Array<{ predicateType: string; signer: string; verified: boolean }>;
    provenance: { builder: string; sourceRepo: string } | null;
  } | null;
  source?: string;
  target?: string;
  user?: string;
  now?: Date;
}

export function policyVariables(i: PolicyInput): Record<string, unknown> {
  const labels = i.image.labels ?? {};
  const build = {
    branch: i.build?.branch ?? '',
    commit: i.build?.commit ?? '',
    builder: i.build?.builder ?? '',
    ciUrl: i.build?.ciUrl ?? '',
  };
  const n = (v: number | undefined): bigint => BigInt(Math.trunc(v ?? 0));
  return {
    image: {
      repository: i.image.repository,
      tag: i.image.tag,
      digest: i.image.digest,
      labels,
      annotations: i.image.annotations ?? {},
      created: i.image.created ?? new Date(0),
      platforms: i.image.platforms ?? [],
    },
    build,
    scan: {
      present: i.scan != null,
      critical: n(i.scan?.critical),
      high: n(i.scan?.high),
      medium: n(i.scan?.medium),
      low: n(i.scan?.low),
    },
    sbom: { licenses: i.sbom?.licenses ?? [], components: i.sbom?.components ?? [] },
    signature: {
      present: i.signaturePresent ?? false,
      verified: i.trust?.verified ?? false,
      signers: i.trust?.signers ?? [],
    },
    attestations: (i.trust?.attestations ?? []).map((a) => ({
      predicateType: a.predicateType,
      signer: a.signer,
      verified: a.verified,
    })),
    provenance: { builder: i.trust?.provenance?.builder ?? '', sourceRepo: i.trust?.provenance?.sourceRepo ?? '' },
    source: { environment: i.source ?? '' },
    target: { environment: i.target ?? '' },
    request: { user: i.user ?? '' },
    now: i.now ?? new Date(),
    containerRepository: i.image.repository,
    containerImage: `${i.image.repository}:${i.image.tag}`,
    containerImageTag: i.image.tag,
    imageLabels: Object.entries(labels).map(([k, v]) => `${k}=${v}`),
    gitCommitDetails: build,
  };
}
