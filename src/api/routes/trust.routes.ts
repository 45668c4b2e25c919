/**
 * A project's trust roots: owners of the whole project (not a role limited to some environments: a key is trusted
 * in every environment) add, replace and remove the keys and Sigstore identities its signatures are checked with;
 * members read them.
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { PROJECT_OWNER, PROJECT_READ } from '../permissions.ts';
import { TrustRoot } from '../components/index.ts';
import { errors, Name } from './schemas.ts';
import { NameRef, TrustedRootText, Value } from './fields.ts';

const SigstoreBody = Type.Object(
  {
    issuer: Type.Optional(Value({ description: 'the OIDC issuer, exactly (or issuerRegex)' })),
    issuerRegex: Type.Optional(Value({ description: 'the OIDC issuer, an RE2 pattern (anchor it with ^…$)' })),
    subject: Type.Optional(
      Value({ description: "the certificate's subject (SAN e-mail or URI), exactly (or subjectRegex)" }),
    ),
    subjectRegex: Type.Optional(
      Value({ description: "the certificate's subject, an RE2 pattern (anchor it with ^…$)" }),
    ),
    trustedRoot: TrustedRootText({
      description: "Sigstore's trusted_root.json (Fulcio CAs, Rekor and CT log keys, TSAs), as JSON text",
    }),
  },
  { additionalProperties: false },
);

const P = Type.Object({ project: NameRef() });
const PN = Type.Object({ project: NameRef(), name: NameRef() });

export function trustRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/projects/:project/trust-roots',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'listTrustRoots',
        summary: "The public keys the project's signatures and attestations are verified with",
        tags: ['projects'],
        params: P,
        response: { 200: Type.Object({ items: Type.Array(TrustRoot) }), ...errors },
      },
    },
    async (req) => ({ items: await s.trust.list(req.params.project) }),
  );
  app.get(
    '/api/v1/projects/:project/trust-roots/:name',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getTrustRoot',
        summary: 'One trust root',
        tags: ['projects'],
        params: PN,
        response: { 200: TrustRoot, ...errors },
      },
    },
    async (req) => s.trust.get(req.params.project, req.params.name),
  );
  app.put(
    '/api/v1/projects/:project/trust-roots/:name',
    {
      config: { permission: PROJECT_OWNER },
      schema: {
        operationId: 'putTrustRoot',
        summary:
          "Trust a public key (PEM: ECDSA P-256, Ed25519 or RSA) or a Sigstore identity under a name, or replace it; the project's artifacts are verified again and waiting promotions re-evaluated",
        tags: ['projects'],
        params: Type.Object({ project: NameRef(), name: Name }),
        body: Type.Union([
          Type.Object(
            {
              publicKey: Type.String({ maxLength: 16384, description: 'PEM public key (-----BEGIN PUBLIC KEY-----)' }),
            },
            { additionalProperties: false },
          ),
          Type.Object({ sigstore: SigstoreBody }, { additionalProperties: false }),
        ]),
        response: { 200: TrustRoot, 201: TrustRoot, ...errors },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const r =
        'sigstore' in body
          ? await s.trust.putSigstore(actorOf(req), req.params.project, req.params.name, body.sigstore)
          : await s.trust.put(actorOf(req), req.params.project, req.params.name, body.publicKey);
      return reply.status(r.created ? 201 : 200).send(r.root);
    },
  );
  app.delete(
    '/api/v1/projects/:project/trust-roots/:name',
    {
      config: { permission: PROJECT_OWNER },
      schema: {
        operationId: 'deleteTrustRoot',
        summary:
          "Stop trusting a key or identity; the project's artifacts are verified again without it and waiting promotions re-evaluated",
        tags: ['projects'],
        params: PN,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await s.trust.remove(actorOf(req), req.params.project, req.params.name);
      return reply.status(204).send(null);
    },
  );
}
