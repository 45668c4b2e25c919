/**
 * A project's trust roots: owners of the whole project (not a role limited to some environments: a key is trusted
 * in every environment) add, replace and remove the keys its signatures are checked with; members read them.
 */
import { Type } from '@fastify/type-provider-typebox';
import { actorOf, type App, type Services } from '../context.ts';
import { PROJECT_OWNER, PROJECT_READ } from '../permissions.ts';
import { TrustRoot } from '../components/index.ts';
import { errors, Name } from './schemas.ts';
import { NameRef } from './fields.ts';

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
          "Trust a public key (PEM: ECDSA P-256, Ed25519 or RSA) under a name, or replace its key; the project's artifacts are verified again",
        tags: ['projects'],
        params: Type.Object({ project: NameRef(), name: Name }),
        body: Type.Object(
          { publicKey: Type.String({ maxLength: 16384, description: 'PEM public key (-----BEGIN PUBLIC KEY-----)' }) },
          { additionalProperties: false },
        ),
        response: { 200: TrustRoot, 201: TrustRoot, ...errors },
      },
    },
    async (req, reply) => {
      const r = await s.trust.put(actorOf(req), req.params.project, req.params.name, req.body.publicKey);
      return reply.status(r.created ? 201 : 200).send(r.root);
    },
  );
  app.delete(
    '/api/v1/projects/:project/trust-roots/:name',
    {
      config: { permission: PROJECT_OWNER },
      schema: {
        operationId: 'deleteTrustRoot',
        summary: "Stop trusting a key; the project's artifacts are verified again without it",
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
