/** An artifact: one digest of an application, what hoist read of it, and where it is now. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';
import { PromotionAttestationState } from './signing.ts';
import { TrustVerdict } from './trust.ts';

const StringMap = Type.Record(Type.String(), Type.String());

export const Artifact = component(
  'Artifact',
  Type.Object({
    application: Type.String(),
    digest: Type.String(),
    registry: Type.String(),
    repository: Type.String(),
    tag: Type.Union([Type.String(), Type.Null()], { description: 'the tag it was first seen (or registered) with' }),
    tags: Type.Array(Type.String(), { description: 'every tag it has been seen with, oldest first' }),
    mediaType: Type.String(),
    size: Type.Integer(),
    labels: StringMap,
    annotations: StringMap,
    created: Type.Union([Type.String(), Type.Null()]),
    platforms: Type.Array(Type.String()),
    referrers: Type.Array(
      Type.Object({
        digest: Type.String(),
        mediaType: Type.String(),
        artifactType: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
    scan: Type.Union(
      [
        Type.Object({
          critical: Type.Integer(),
          high: Type.Integer(),
          medium: Type.Integer(),
          low: Type.Integer(),
          scanner: Type.Optional(Type.String()),
          digest: Type.String({ description: 'the referrer the report came from' }),
        }),
        Type.Null(),
      ],
      {
        description:
          'counts per severity from the attached vulnerability report (Trivy, Grype, SARIF, CycloneDX; also in-toto/DSSE-wrapped)',
      },
    ),
    sbom: Type.Union(
      [
        Type.Object({
          licenses: Type.Array(Type.String()),
          components: Type.Array(Type.String()),
          format: Type.String(),
          digest: Type.String(),
        }),
        Type.Null(),
      ],
      { description: 'licenses and components from the attached SBOM (SPDX, CycloneDX)' },
    ),
    trust: Type.Union([TrustVerdict, Type.Null()]),
    quarantine: Type.Union([Type.Object({ reason: Type.String(), by: Type.String(), at: Type.String() }), Type.Null()]),
    build: Type.Object({
      branch: Type.Optional(Type.String()),
      commit: Type.Optional(Type.String()),
      builder: Type.Optional(Type.String()),
      ciUrl: Type.Optional(Type.String()),
      labels: Type.Optional(StringMap),
    }),
    registeredBy: Type.String(),
    registeredAt: Type.String(),
    environments: Type.Array(
      Type.Object({ environment: Type.String(), tag: Type.Union([Type.String(), Type.Null()]), since: Type.String() }),
    ),
    attestations: Type.Optional(
      Type.Array(PromotionAttestationState, {
        description: "hoist's signed promotion attestations of this image, newest first (one artifact's answer only)",
      }),
    ),
  }),
);
