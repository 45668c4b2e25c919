/** Assembles the services the API serves from one database and the key that seals registry secrets. */
import { Accounts } from '../service/accounts.service.ts';
import { Artifacts } from '../service/artifacts.service.ts';
import { Environments } from '../service/environments.service.ts';
import { Policies } from '../service/policies.service.ts';
import { Projects } from '../service/projects.service.ts';
import { Promotions } from '../service/promotions.service.ts';
import { PromotionRunner } from '../service/promotion-runner.ts';
import { Registries } from '../service/registries.service.ts';
import type { SecretBox } from '../service/secret-box.ts';
import type { Database } from '../store/database.ts';
import type { Services } from './context.ts';

export function createServices(database: Database, box: SecretBox, opts: { promotionLeaseMs?: number } = {}): Services {
  const registries = new Registries(database.db, box);
  const artifacts = new Artifacts(database.db, registries);
  const environments = new Environments(database.db);
  const policies = new Policies(database.db);
  const runner = new PromotionRunner(database.db, registries, opts.promotionLeaseMs !== undefined ? { leaseMs: opts.promotionLeaseMs } : {});
  return {
    database,
    accounts: new Accounts(database.db),
    registries,
    artifacts,
    projects: new Projects(database.db),
    environments,
    policies,
    promotions: new Promotions(database.db, artifacts, environments, policies, () => runner.notify()),
    runner,
  };
}
