/**
 * Whether an environment is the only one that holds a pushed repository (and tag) in a registry: then an event
 * reporting hoist's own write there can concern nothing but that write (src/service/own-pushes.ts), and the hook can
 * recognise it at once. The environments of a registry are read once per registry for a short while (a promotion
 * asks twice: for the digest and for the tag); an environment created within that while is seen by the next read.
 */
import { tagMatches, templateMatches } from '../service/artifacts.service.ts';
import type { PushedImage } from '../service/own-pushes.ts';

/** How long a registry's environments are reused. */
const ENVIRONMENTS_TTL_MS = 1000;

/** An environment of the registry, once per application of its project (`{app}` in its templates). */
export interface RegistryEnvironment {
  id: string;
  kind: 'repository' | 'tag';
  repository_template: string;
  tag_template: string | null;
  app: string;
}

type RegistryEnvironments = readonly RegistryEnvironment[];

export class SoleHolders {
  private readonly byRegistry = new Map<string, { until: number; environments: Promise<RegistryEnvironments> }>();

  constructor(
    /** The registry's environments (src/store/artifacts.repository.ts environmentsPerApplicationInRegistry). */
    private readonly load: (registryId: string) => Promise<RegistryEnvironments>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `environmentId` is the one environment (of any project or application) holding the pushed image. */
  async sole(p: PushedImage, environmentId: string): Promise<boolean> {
    const holding = (await this.environments(p.registryId)).filter(
      (e) =>
        templateMatches(e.repository_template, e.app, p.repository) &&
        (e.kind === 'repository' ||
          (p.tag !== undefined && e.tag_template !== null && tagMatches(e.tag_template, e.app, p.tag))),
    );
    return holding.length > 0 && holding.every((e) => e.id === environmentId);
  }

  private environments(registryId: string): Promise<RegistryEnvironments> {
    const now = this.now();
    const cached = this.byRegistry.get(registryId);
    if (cached && cached.until > now) return cached.environments;
    if (this.byRegistry.size > 100) this.byRegistry.clear();
    const environments = this.load(registryId);
    this.byRegistry.set(registryId, { until: now + ENVIRONMENTS_TTL_MS, environments });
    // A failed read is not kept.
    environments.catch(() => this.byRegistry.delete(registryId));
    return environments;
  }
}
