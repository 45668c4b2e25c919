/** Assembles the services the API serves from one database and the key that seals registry and webhook secrets. */
import { Accounts } from '../service/accounts.service.ts';
import { Artifacts } from '../service/artifacts.service.ts';
import { AuditCheckpoints, type CheckpointOptions } from '../service/audit-checkpoints.ts';
import { AuditSealer } from '../service/audit-sealer.ts';
import { AuditSigningKey } from '../service/audit-signing-key.ts';
import { Automation, type AutomationLog } from '../service/automation.ts';
import { Bindings } from '../service/bindings.service.ts';
import { Boards } from '../service/board.service.ts';
import { Environments } from '../service/environments.service.ts';
import { Intake } from '../service/intake.service.ts';
import { OwnPushes } from '../service/own-pushes.ts';
import { LiveEvents, type LiveEventsOptions } from '../service/live-events.service.ts';
import { Namespaces } from '../service/namespaces.service.ts';
import type { Mailer } from '../service/mailer.ts';
import { NotificationDispatcher, type DispatcherOptions } from '../service/notification-dispatcher.ts';
import { Outbox } from '../service/outbox.ts';
import { Policies } from '../service/policies.service.ts';
import { Poller } from '../service/poller.ts';
import { Projects } from '../service/projects.service.ts';
import { Promotions } from '../service/promotions.service.ts';
import { PromotionRunner } from '../service/promotion-runner.ts';
import { Releases } from '../service/releases.service.ts';
import type { ReleaseHooks } from '../service/release-run.ts';
import { Quarantine } from '../service/quarantine.service.ts';
import { Registries } from '../service/registries.service.ts';
import { Rules } from '../service/rules.service.ts';
import { SingleSignOn } from '../service/sso.service.ts';
import { TrustRoots } from '../service/trust.service.ts';
import type { Clock } from '../service/clock.ts';
import type { ScryptCost } from '../service/passwords.ts';
import type { SecretBox } from '../service/secret-box.ts';
import { Webhooks } from '../service/webhooks.service.ts';
import { GitTargets } from '../service/git-targets.service.ts';
import { GitopsWriter, type GitopsWriterOptions } from '../service/gitops-writer.ts';
import type { Database } from '../store/database.ts';
import { OutboundPolicy } from '../net/outbound-policy.ts';
import type { Logger } from 'pino';
import type { Services } from './context.ts';
import { PromotionAttestor, type AttestorOptions } from '../service/promotion-attestor.ts';
import { SigningKeys, type SigningKeyOptions } from '../service/signing-keys.ts';
import { AttestationGate } from '../service/attestation-gate.ts';

export interface ServiceOptions {
  promotionLeaseMs?: number;
  /** How long a transiently failing promotion target is retried (HOIST_PROMOTION_RETRY_FOR), and its first backoff. */
  promotionRetry?: { forMs?: number; backoffMs?: number; maxBackoffMs?: number };
  /** Where services log (each gets a child logger); none: silent. */
  logger?: Logger;
  /** Where approval e-mails go out; none: no e-mails. */
  mailer?: Mailer;
  dispatcher?: DispatcherOptions;
  log?: AutomationLog;
  /** Audit checkpoints: the signing key (default: a fresh one in memory) and where and how often to sign. */
  audit?: CheckpointOptions & { key?: AuditSigningKey };
  /** Where registries and webhooks may connect; default: public addresses only (HOIST_OUTBOUND_ALLOW opens more). */
  outbound?: OutboundPolicy;
  /** The time automation and promotion decisions see (soak, windows); default: the system clock. */
  clock?: Clock;
  /** The event stream: heartbeat, limits, progress rate. */
  live?: LiveEventsOptions;
  /** How a slowed-down login waits (default: a timer) and the scrypt cost of new password hashes (default:
   * PASSWORD_COST): tests record the waits and hash cheaply. */
  accounts?: { sleep?: (ms: number) => Promise<void>; passwordCost?: ScryptCost };
  /** GitOps write-back: retries, backoff and git timeouts. */
  gitops?: GitopsWriterOptions;
  /** Signed promotion attestations: on unless `enabled: false` (HOIST_ATTESTATIONS=off); where the key lives. */
  attestations?: SigningKeyOptions & AttestorOptions & { enabled?: boolean };
  /** Test hooks of the runner's release targets (src/service/release-run.ts). */
  releaseHooks?: ReleaseHooks;
}

export function createServices(database: Database, box: SecretBox, opts: ServiceOptions = {}): Services {
  const db = database.db;
  const outbound = opts.outbound ?? new OutboundPolicy();
  const registries = new Registries(db, box, outbound);
  const namespaces = new Namespaces(db);
  const artifacts = new Artifacts(db, registries, namespaces);
  const environments = new Environments(db, namespaces);
  const dispatcher = new NotificationDispatcher(db, box, opts.mailer, {
    outbound,
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    notifier: database.notifier,
    ...opts.dispatcher,
  });
  const live = new LiveEvents(db, database.notifier, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...opts.live,
  });
  const outbox = new Outbox(opts.mailer !== undefined, () => dispatcher.notify());
  // What the runner writes comes back as push events; the intake recognises them (src/service/own-pushes.ts).
  const ownPushes = new OwnPushes();
  const signingKeys = new SigningKeys(db, box, opts.attestations);
  const attestor =
    opts.attestations?.enabled === false
      ? undefined
      : new PromotionAttestor(db, signingKeys, registries, {
          ...(opts.logger ? { logger: opts.logger } : {}),
          notifier: database.notifier,
          ownPushes,
          // Promotions and push events first: attestations are off their path, and in a burst each attestation's
          // statements and pushes (and the registry's notifications of them) held up the next images'.
          yieldTo: (): boolean => runner.queue.busy || intake.queue.busy,
          ...opts.attestations,
        });
  const runner = new PromotionRunner(
    db,
    registries,
    {
      ...(opts.promotionLeaseMs !== undefined ? { leaseMs: opts.promotionLeaseMs } : {}),
      ...(opts.promotionRetry?.forMs !== undefined ? { retryForMs: opts.promotionRetry.forMs } : {}),
      ...(opts.promotionRetry?.backoffMs !== undefined ? { backoffMs: opts.promotionRetry.backoffMs } : {}),
      ...(opts.promotionRetry?.maxBackoffMs !== undefined ? { maxBackoffMs: opts.promotionRetry.maxBackoffMs } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
      notifier: database.notifier,
      live,
      ownPushes,
      ...(attestor ? { attestor } : {}),
      ...(opts.releaseHooks ? { releaseHooks: opts.releaseHooks } : {}),
    },
    outbox,
  );
  const promotions = new Promotions(db, () => runner.notify(), outbox, artifacts, opts.clock);
  // Policy changes re-evaluate the promotion targets waiting under them, in the change's own transaction.
  const policies = new Policies(db, promotions);
  const automation = new Automation(
    db,
    artifacts,
    environments,
    promotions,
    opts.log,
    {
      notifier: database.notifier,
      ...(opts.logger ? { logger: opts.logger.child({ service: 'soak-tick' }) } : {}),
    },
    opts.clock,
  );
  // The runner tells the automation when an artifact arrived somewhere; the automation opens requests the runner runs.
  runner.onPromoted = (id, soaks) => {
    // Arrived where there is no soak time: nothing for the soak tick (of every replica) to wait for; `consider` runs now.
    if (soaks !== false) automation.ticker.notify();
    void automation.consider([id]).catch(() => undefined);
  };
  const intake = new Intake(db, registries, artifacts, automation, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    notifier: database.notifier,
    ownPushes,
  });
  const accounts = new Accounts(db, undefined, opts.accounts?.sleep, opts.accounts?.passwordCost);
  // A change of trust roots re-evaluates the targets waiting on artifacts whose verdict changed, and queues the
  // never-read artifacts on the push-event intake; so does a verdict changed by a referrer read again.
  const trust = new TrustRoots(db, promotions, intake);
  artifacts.onVerdictsChanged = (ids) => trust.reevaluateArtifacts({ username: 'hoist' }, ids);
  return {
    database,
    accounts,
    registries,
    artifacts,
    projects: new Projects(db),
    namespaces,
    environments,
    policies,
    promotions,
    releases: new Releases(
      db,
      (project, id) => promotions.get(project, id),
      () => runner.notify(),
      outbox,
      opts.clock,
    ),
    runner,
    attestor,
    webhooks: new Webhooks(db, box, outbound),
    dispatcher,
    quarantine: new Quarantine(db),
    rules: new Rules(db, artifacts),
    bindings: new Bindings(db, artifacts, environments, promotions, automation),
    board: new Boards(db, opts.clock),
    automation,
    intake,
    poller: new Poller(db, registries, intake, {
      notifier: database.notifier,
      ...(opts.logger ? { logger: opts.logger.child({ service: 'poller' }) } : {}),
    }),
    auditCheckpoints: new AuditCheckpoints(db, opts.audit?.key ?? AuditSigningKey.generate(), opts.audit),
    auditSealer: new AuditSealer(db, database.notifier, opts.logger ? { log: opts.logger } : {}),
    live,
    sso: new SingleSignOn(db, box, accounts, outbound),
    trust,
    gitTargets: new GitTargets(db, box, outbound),
    gitops: new GitopsWriter(db, box, outbound, {
      ...(opts.logger ? { logger: opts.logger } : {}),
      notifier: database.notifier,
      ...opts.gitops,
    }),
    signingKeys,
    attestationGate: new AttestationGate(db, registries, signingKeys),
  };
}
