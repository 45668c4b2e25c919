/** hoist's own signing keys (promotion attestations) and the deploy gate's verdict on an image's attestations. */
import { Type } from '@fastify/type-provider-typebox';
import { component } from './component.ts';

export const SigningKey = component(
  'SigningKey',
  Type.Object({
    keyId: Type.String({ description: 'sha256:<hex> of the DER SubjectPublicKeyInfo; the DSSE keyid' }),
    algorithm: Type.String({ description: 'ecdsa-p256' }),
    publicKey: Type.String({ description: 'PEM (SPKI): save it as pub.pem for hoist verify --key or openssl' }),
    current: Type.Boolean({ description: 'signs new attestations; retired keys stay listed for verification' }),
    source: Type.Union([Type.Literal('file'), Type.Literal('database')]),
    createdAt: Type.String(),
    retiredAt: Type.Union([Type.String(), Type.Null()]),
  }),
);

export const AttestationVerdict = component(
  'AttestationVerdict',
  Type.Object({
    verified: Type.Boolean({ description: 'a chain of signed promotion attestations reaches the environment' }),
    reason: Type.String(),
    reference: Type.Union([Type.String(), Type.Null()], { description: 'where the attestations were read' }),
    chain: Type.Array(
      Type.Object({
        from: Type.String(),
        to: Type.String(),
        requestId: Type.String(),
        requestedBy: Type.String(),
        approvedBy: Type.Array(Type.String()),
        policy: Type.Union([Type.String(), Type.Null()]),
        at: Type.String(),
        attestation: Type.String({ description: 'the referrer manifest digest' }),
      }),
    ),
  }),
);

export const PromotionAttestationState = component(
  'PromotionAttestationState',
  Type.Object({
    environment: Type.String({ description: 'where the image was promoted' }),
    application: Type.String(),
    digest: Type.String(),
    repository: Type.String({ description: 'the repository at the target the attestation is attached in' }),
    state: Type.Union([Type.Literal('attached'), Type.Literal('pending'), Type.Literal('failed')], {
      description: 'attached right after PROMOTED by a retried job: pending until then, failed (for good) with why',
    }),
    reason: Type.Union([Type.String(), Type.Null()], { description: 'the last failure (pending: before a retry)' }),
    attempts: Type.Integer(),
    manifest: Type.Union([Type.String(), Type.Null()], { description: 'the referrer manifest digest, once signed' }),
    attachedAt: Type.Union([Type.String(), Type.Null()]),
  }),
);
