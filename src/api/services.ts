/** Assembles the services the API serves from one database and the key that seals registry and webhook secrets. */
import { Accounts } from '../service/accounts.service.ts';
import { Artifacts } from '../service/artifacts.service.ts';
import { Environments } from '../service/environments.service.ts';
import type { Mailer } from '../service/mailer.ts';
import { NotificationDispatcher, type DispatcherOptions } from '../service/notification-dispatcher.ts';
import { Outbox } from '../service/outbox.ts';
import { Policies } from '../service/policies.service.ts';
import { Projects } from '../service/projects.service.ts';
import { Promotions } from '../service/promotions.service.ts';
import { PromotionRunner } from '../service/promotion-runner.ts';
import { Registries } from '../service/registries.service.ts';
import type { SecretBox } from '../service/secret-box.ts';
import { Webhooks } from '../service/webhooks.service.ts';
import type { Database } from '../store/database.ts';
import type { Services } from './context.ts';

export interface ServiceOptions {
  promotionLeaseMs?: number;
  /** Where approval e-mails go out; none: no e-mails. */
  mailer?: Mailer;
  dispatcher?: DispatcherOptions;
}

export function createServices(database: Database, box: SecretBox, opts: ServiceOptions = {}): Services {
  const registries = new Registries(database.db, box);
  const artifacts = new Artifacts(database.db, registries);
  const environments = new Environments(database.db);
  const policies = new Policies(database.db);
  const dispatcher = new NotificationDispatcher(database.db, box, opts.mailer, opts.dispatcher);
  const outbox = new Outbox(opts.mailer !== undefined, () => dispatcher.notify());
  const runner = new PromotionRunner(database.db, registries, opts.promotionLeaseMs !== undefined ? { leaseMs: opts.promotionLeaseMs } : {}, outbox);
  return {
    database,
    accounts: new Accounts(database.db),
    registries,
    artifacts,
    projects: new Projects(database.db),
    environments,
    policies,
    promotions: new Promotions(database.db, artifacts, environments, policies, () => runner.notify(), outbox),
    runner,
    webhooks: new Webhooks(database.db, box),
    dispatcher,
  };
}
