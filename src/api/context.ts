/** What route handlers get: the services, and the typed Fastify instance they register on. */
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Database } from '../store/database.ts';
import type { Accounts } from '../service/accounts.service.ts';
import type { Artifacts } from '../service/artifacts.service.ts';
import type { AuditCheckpoints } from '../service/audit-checkpoints.ts';
import type { AuditSealer } from '../service/audit-sealer.ts';
import type { PromotionAttestor } from '../service/promotion-attestor.ts';
import type { Environments } from '../service/environments.service.ts';
import type { Policies } from '../service/policies.service.ts';
import type { Projects } from '../service/projects.service.ts';
import type { Namespaces } from '../service/namespaces.service.ts';
import type { Promotions } from '../service/promotions.service.ts';
import type { Releases } from '../service/releases.service.ts';
import type { PromotionRunner } from '../service/promotion-runner.ts';
import type { Registries } from '../service/registries.service.ts';
import type { NotificationDispatcher } from '../service/notification-dispatcher.ts';
import type { Webhooks } from '../service/webhooks.service.ts';
import type { Automation } from '../service/automation.ts';
import type { Bindings } from '../service/bindings.service.ts';
import type { Boards } from '../service/board.service.ts';
import type { Intake } from '../service/intake.service.ts';
import type { LiveEvents } from '../service/live-events.service.ts';
import type { Poller } from '../service/poller.ts';
import type { Quarantine } from '../service/quarantine.service.ts';
import type { Rules } from '../service/rules.service.ts';
import type { SingleSignOn } from '../service/sso.service.ts';
import type { TrustRoots } from '../service/trust.service.ts';
import type { GitTargets } from '../service/git-targets.service.ts';
import type { GitopsWriter } from '../service/gitops-writer.ts';
import type { SigningKeys } from '../service/signing-keys.ts';
import type { AttestationGate } from '../service/attestation-gate.ts';
import type { Permission } from './permissions.ts';
import type { Identity } from '../service/identity.ts';

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface Services {
  database: Database;
  accounts: Accounts;
  registries: Registries;
  projects: Projects;
  namespaces: Namespaces;
  environments: Environments;
  policies: Policies;
  artifacts: Artifacts;
  promotions: Promotions;
  /** Named sets of (application, digest) pairs, promoted together. */
  releases: Releases;
  runner: PromotionRunner;
  /** Attaches the signed promotion attestations (undefined: HOIST_ATTESTATIONS=off). */
  attestor: PromotionAttestor | undefined;
  webhooks: Webhooks;
  dispatcher: NotificationDispatcher;
  quarantine: Quarantine;
  rules: Rules;
  bindings: Bindings;
  /** The project board (GET …/board). */
  board: Boards;
  automation: Automation;
  intake: Intake;
  poller: Poller;
  auditCheckpoints: AuditCheckpoints;
  /** Chains committed audit rows soon after commit (every read of the chain seals too). */
  auditSealer: AuditSealer;
  trust: TrustRoots;
  signingKeys: SigningKeys;
  attestationGate: AttestationGate;
  /** The event stream's fan-out (GET /api/v1/events/stream). */
  live: LiveEvents;
  /** Single sign-on with OpenID Connect. */
  sso: SingleSignOn;
  /** GitOps write-back: environments' Git targets, and the queue that writes promoted digests to them. */
  gitTargets: GitTargets;
  gitops: GitopsWriter;
}

export interface DeclaredRoute {
  method: string;
  url: string;
  permission: Permission;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with its declared permission (for the permission test and the docs). */
    declaredRoutes: DeclaredRoute[];
  }
  interface FastifyContextConfig {
    /** Every route declares what it needs; server.ts refuses a route without it. */
    permission?: Permission;
  }
  interface FastifyRequest {
    identity?: Identity & { csrfToken?: string };
  }
}

/** Who made a change, for the audit log: the signed-in user and the request id (and whether they are an admin). */
export function actorOf(req: { identity?: { username: string; isAdmin?: boolean }; id: string }): {
  username: string;
  requestId: string;
  isAdmin: boolean;
} {
  return {
    username: req.identity?.username ?? 'anonymous',
    requestId: req.id,
    isAdmin: req.identity?.isAdmin ?? false,
  };
}
