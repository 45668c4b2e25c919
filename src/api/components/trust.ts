/** Trust roots (a project's named public keys) and the verdict on an artifact's signatures and attestations. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

export const TrustRoot = component(
  'TrustRoot',
  Type.Object({
    name: Type.String(),
    algorithm: Type.Union([Type.Literal('ecdsa-p256'), Type.Literal('ed25519'), Type.Literal('rsa')]),
    fingerprint: Type.String({ description: "sha256 of the key's DER SubjectPublicKeyInfo, hex" }),
    publicKey: Type.String({ description: 'PEM' }),
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
