/**
 * Trust roots (a project's named public keys and Sigstore identities) and the verdict on an artifact's signatures and
 * attestations.
 */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

export const TrustRoot = component(
  'TrustRoot',
  Type.Object({
    name: Type.String(),
    algorithm: Type.Union(
      [Type.Literal('ecdsa-p256'), Type.Literal('ed25519'), Type.Literal('rsa'), Type.Literal('sigstore')],
      { description: 'the key type, or sigstore for a Sigstore identity' },
    ),
    fingerprint: Type.String({
      description:
        "a key: sha256 of its DER SubjectPublicKeyInfo, hex; a Sigstore identity: sha256 of the identity and the trusted root's fingerprint",
    }),
    publicKey: Type.Optional(Type.String({ description: 'PEM (a public key only)' })),
    sigstore: Type.Optional(
      Type.Object(
        {
          issuer: Type.Optional(Type.String({ description: 'the OIDC issuer, exactly' })),
          issuerRegex: Type.Optional(Type.String({ description: 'the OIDC issuer, an RE2 pattern' })),
          subject: Type.Optional(
            Type.String({ description: "the certificate's subject (SAN e-mail or URI), exactly" }),
          ),
          subjectRegex: Type.Optional(Type.String({ description: "the certificate's subject, an RE2 pattern" })),
          trustedRoot: Type.Object(
            {
              fingerprint: Type.String({
                description: 'sha256 of the trusted_root.json (its JSON without whitespace), hex',
              }),
              document: Type.String({ description: 'the trusted_root.json as given' }),
              certificateAuthorities: Type.Integer(),
              tlogs: Type.Integer(),
              ctlogs: Type.Integer(),
              timestampAuthorities: Type.Integer(),
            },
            { description: 'what the trusted root the certificates must chain to holds' },
          ),
        },
        {
          description:
            'a Sigstore identity: bundles verify when its certificate chains to the trusted root and names it',
        },
      ),
    ),
    createdBy: Type.String(),
    createdAt: Type.String(),
  }),
);

export const TrustVerdict = component(
  'TrustVerdict',
  Type.Object(
    {
      checkedAt: Type.String(),
      roots: Type.Array(Type.Object({ name: Type.String(), fingerprint: Type.String() }), {
        description: 'the trust roots it was checked against',
      }),
      checks: Type.Array(
        Type.Object({
          type: Type.Union([Type.Literal('signature'), Type.Literal('attestation')]),
          manifest: Type.String({ description: 'the referrer (or .sig/.att tag) manifest it was read from' }),
          source: Type.Union([Type.Literal('referrer'), Type.Literal('tag')]),
          predicateType: Type.Union([Type.String(), Type.Null()]),
          signer: Type.Union([Type.String(), Type.Null()], { description: 'the (first) trust root that verified it' }),
          signers: Type.Array(Type.String(), { description: 'every trust root whose key verifies it' }),
          verified: Type.Boolean(),
          reason: Type.String({ description: 'why it is trusted, or why not' }),
          identity: Type.Optional(
            Type.Object(
              { issuer: Type.String(), subject: Type.String() },
              { description: "a Sigstore bundle's certificate identity, when the certificate verified" },
            ),
          ),
        }),
      ),
      verified: Type.Boolean({ description: 'a cosign signature verified (policy: signature.verified)' }),
      signers: Type.Array(Type.String(), { description: 'policy: signature.signers' }),
      attestations: Type.Array(
        Type.Object({ predicateType: Type.String(), signer: Type.String(), verified: Type.Boolean() }),
      ),
      provenance: Type.Union([Type.Object({ builder: Type.String(), sourceRepo: Type.String() }), Type.Null()]),
    },
    { description: "the attached signatures and attestations, judged against the project's trust roots" },
  ),
);
