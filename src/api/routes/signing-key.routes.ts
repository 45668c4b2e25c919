/**
 * hoist's signing keys: anyone may read the public keys (GET needs no sign-in: they are what a user of a promoted
 * image checks its attestations with, and a public key discloses nothing); only admins rotate. Project members ask
 * the deploy gate whether a digest carries a verified chain of promotion attestations into an environment.
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { ADMIN, PROJECT_READ, PUBLIC } from '../permissions.ts';
import { AttestationVerdict, SigningKey } from '../components/index.ts';
import { errors, Sha256Digest } from './schemas.ts';
import { NameRef } from './fields.ts';

export function signingKeyRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/signing-key',
    {
      config: { permission: PUBLIC },
      schema: {
        operationId: 'listSigningKeys',
        summary:
          'The public keys hoist signs promotion attestations with: the current one and retired ones (public; no sign-in)',
        tags: ['system'],
        response: { 200: Type.Object({ items: Type.Array(SigningKey) }), ...errors },
      },
    },
    async () => ({ items: await s.signingKeys.list() }),
  );
  app.post(
    '/api/v1/signing-key/rotate',
    {
      config: { permission: ADMIN },
      schema: {
        operationId: 'rotateSigningKey',
        summary:
          'Sign new attestations with a new key; the old public key stays listed so what it signed still verifies',
        tags: ['system'],
        response: { 200: SigningKey, ...errors },
      },
    },
    async (req) => s.signingKeys.rotate(actorOf(req)),
  );
  app.get(
    '/api/v1/projects/:project/environments/:env/attestation',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'checkAttestation',
        summary:
          "Does this digest carry, where it was promoted into this environment, a verified chain of hoist's signed promotion attestations? For deploy gates",
        tags: ['promotions'],
        params: Type.Object({ project: NameRef(), env: NameRef() }),
        querystring: Type.Object({ digest: Sha256Digest }, { additionalProperties: false }),
        response: { 200: AttestationVerdict, ...errors },
      },
    },
    async (req) => s.attestationGate.check(req.params.project, req.params.env, req.query.digest),
  );
}
