/**
 * The automation engine: given artifacts that arrived in (or soaked in) an environment, fire the rules whose source
 * is that environment, and move track-latest bindings downstream to the newest artifact that has soaked, passes the
 * rules and is not quarantined. Every promotion it opens goes through the normal request (policy, approvals,
 * windows, history); a firing key per rule (or binding) and artifact, written in the request's transaction, means
 * none is requested twice, however many events arrive. A pinned environment is never moved by automation.
 */
import type { Kysely } from 'kysely';
import { renderTagTemplate } from '../automation/tag-template.ts';
import { NotFound } from '../errors.ts';
import { findApplicationByNames } from '../store/applications.repository.ts';
import { artifactIdByDigest, artifactLocations } from '../store/artifacts.repository.ts';
import { automationOutlook } from '../store/automation-outlook.query.ts';
import { environmentIdByName } from '../store/environments.repository.ts';
import { enabledRulesFor, type EnabledRule } from '../store/rules.repository.ts';
import type { Schema } from '../store/schema.ts';
import type { ArtifactView, Artifacts } from './artifacts.service.ts';
import type { Environments, EnvironmentView } from './environments.service.ts';
import { AlreadyFired, type Automated, type PromotionInput, type Promotions } from './promotions.service.ts';
import { ruleMatches } from './rules.service.ts';
import { SoakTicker, type SoakTickerOptions } from './soak-ticker.ts';
import { systemClock, type Clock } from './clock.ts';

export interface AutomationLog {
  warn(obj: object, msg: string): void;
}

/**
 * An artifact that arrived in environments by a push, under the tag the push names; or (a bare id) one that soaked
 * or was promoted, judged under the tag each environment holds it by.
 */
export interface Arrival {
  artifactId: string;
  tag?: string;
  /** Where the pushed tag applies (the environments that hold the pushed repository); every one when absent. */
  environments?: readonly string[];
}

/** A rule's firing key for an artifact: one request per rule and artifact (written with the request). */
/** A rule's firing key for an artifact (the automation outlook's SQL spells it too, for its `fired` shortcut). */
const ruleKey = (ruleId: string, artifactId: string): string => `rule:${ruleId}:${artifactId}`;

const soakedAt = (since: string, env: EnvironmentView | undefined): number =>
  Date.parse(since) + (env?.soakSeconds ?? 0) * 1000;
/** Newest build first: the image's created time, then when hoist learned of it. */
const newestFirst = (a: ArtifactView, b: ArtifactView): number =>
  (Date.parse(b.created ?? '') || 0) - (Date.parse(a.created ?? '') || 0) ||
  Date.parse(b.registeredAt) - Date.parse(a.registeredAt);

export class Automation {
  /** Looks for builds that have soaked, once across all replicas (./soak-ticker.ts). */
  readonly ticker: SoakTicker;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly artifacts: Artifacts,
    private readonly environments: Environments,
    private readonly promotions: Promotions,
    private readonly log: AutomationLog = { warn: () => {} },
    ticker: SoakTickerOptions = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.ticker = new SoakTicker(db, (ids, now) => this.consider(ids, now), ticker);
  }

  private async rules(projectId: string, appId: string): Promise<EnabledRule[]> {
    return enabledRulesFor(this.db, projectId, appId);
  }

  /** Whether a rule not fired yet starts where the artifact is (a cheap look at its locations). */
  private async mayFire(
    artifactId: string,
    unfired: readonly EnabledRule[],
    bindings: ReadonlyMap<string, string>,
    arrivedIn: readonly string[] = [],
  ): Promise<boolean> {
    const open = unfired.filter((r) => !bindings.has(r.to));
    if (open.length === 0) return false;
    // Where a push just recorded it: no need to look (the artifact itself is read next, and decides).
    if (open.some((r) => arrivedIn.includes(r.from))) return true;
    const at = new Set((await artifactLocations(this.db, artifactId)).map((l) => l.environment));
    return open.some((r) => at.has(r.from));
  }

  /** Opens a request for an automation (the application by id); a firing that happened already is not an error. */
  private async fire(actor: string, appId: string, input: PromotionInput, automated: Automated): Promise<boolean> {
    try {
      await this.promotions.requestFor({ username: actor }, appId, input, automated);
      return true;
    } catch (e) {
      if (e instanceof AlreadyFired) return false;
      this.log.warn({ err: e, appId, automation: automated.key }, 'automation could not open a promotion');
      return false;
    }
  }

  /** Runs the rules and track-latest bindings for artifacts that soaked in, or were promoted to, an environment. */
  consider(artifactIds: readonly string[], now = this.clock()): Promise<number> {
    return this.arrived(
      artifactIds.map((artifactId) => ({ artifactId })),
      now,
    );
  }

  /**
   * Runs the rules and track-latest bindings for artifacts that arrived in an environment by a push. A rule is
   * judged for the tag the push named (a digest built as `dev-9` and tagged `v9` later matches `v9` then); it fires
   * once per rule and artifact, counted by the requests it made, not by the events that came.
   */
  async arrived(arrivals: readonly Arrival[], now = this.clock()): Promise<number> {
    let fired = 0;
    const distinct = new Map(arrivals.map((a) => [`${a.artifactId}\u0000${a.tag ?? ''}`, a]));
    for (const arrival of distinct.values()) {
      const id = arrival.artifactId;
      // The artifact, the rules and the bindings in one statement.
      const c = await automationOutlook(this.db, id);
      if (!c) continue;
      const rules = c.rules;
      const bindings = new Map(c.bindings.map((b) => [b.name, b.mode]));
      const tracking = [...bindings.values()].includes('track-latest');
      // Most promotions happen where no automation is configured: that one statement answers it.
      if (rules.length === 0 && !tracking) continue;
      // Most arrivals after the first (the promotion's own, a referrer's) find every rule that could fire for the
      // artifact fired already: the same statement answered that (its firing key is taken), before the artifact, its
      // environments and the pipeline are read. Only a shortcut: the key written with the request decides.
      const unfired = rules.filter((r) => !r.fired);
      if (!tracking && !(await this.mayFire(id, unfired, bindings, arrival.environments))) continue;
      const [artifact, environments, pipeline] = await Promise.all([
        this.artifacts.byId(id, c.app),
        this.environments.list(c.project),
        tracking ? this.environments.pipeline(c.project) : [],
      ]);
      if (artifact.quarantine) continue;
      const envs = new Map(environments.map((e) => [e.name, e]));
      for (const loc of artifact.environments) {
        if (soakedAt(loc.since, envs.get(loc.environment)) > now.getTime()) continue;
        const pushed =
          arrival.tag !== undefined && (arrival.environments?.includes(loc.environment) ?? true)
            ? arrival.tag
            : undefined;
        const tag = pushed ?? loc.tag ?? artifact.tag;
        const seen = { ...artifact, tag };
        for (const rule of unfired.filter((r) => r.from === loc.environment && !bindings.has(r.to))) {
          const m = ruleMatches(rule.expression, seen, rule.from, rule.to);
          if (!m.matches) continue;
          const sourceTag = tag ?? 'latest';
          const targetTag =
            rule.tag_template === null
              ? undefined
              : renderTagTemplate(rule.tag_template, {
                  tag: sourceTag,
                  digest: artifact.digest,
                  env: rule.to,
                  app: c.app,
                  now,
                });
          const ok = await this.fire(
            `rule:${rule.name}`,
            c.appId,
            {
              digest: artifact.digest,
              ...(tag !== null ? { tag } : {}),
              from: loc.environment,
              to: [rule.to],
              comment: `rule ${rule.name}`,
            },
            {
              key: ruleKey(rule.id, id),
              requireApproval: rule.mode === 'request',
              ...(targetTag !== undefined ? { tag: targetTag } : {}),
            },
          );
          if (ok) fired++;
        }
        for (const edge of pipeline.filter(
          (e) => e.from === loc.environment && bindings.get(e.to) === 'track-latest',
        )) {
          if (await this.trackLatest(c.project, c.app, edge.to, now)) fired++;
        }
      }
    }
    return fired;
  }

  /**
   * Moves a track-latest environment to the newest artifact of its upstream environments that has soaked there,
   * passes the rules from there (when there are any) and is not quarantined. Answers whether it opened a request.
   */
  async trackLatest(project: string, app: string, env: string, now = this.clock()): Promise<boolean> {
    const appRow = await findApplicationByNames(this.db, project, app);
    if (!appRow) return false;
    const envs = new Map((await this.environments.list(project)).map((e) => [e.name, e]));
    const upstream = (await this.environments.pipeline(project)).filter((e) => e.to === env).map((e) => e.from);
    const rules = (await this.rules(appRow.projectId, appRow.id)).filter((r) => r.to === env);
    const candidates: Array<{ artifact: ArtifactView; from: string }> = [];
    for (const from of upstream) {
      const filters = rules.filter((r) => r.from === from);
      for (const a of (await this.artifacts.list(project, app, from)).sort(newestFirst)) {
        const loc = a.environments.find((l) => l.environment === from);
        if (!loc || a.quarantine || soakedAt(loc.since, envs.get(from)) > now.getTime()) continue;
        if (filters.length > 0 && !filters.some((r) => ruleMatches(r.expression, a, from, env).matches)) continue;
        candidates.push({ artifact: a, from });
        break;
      }
    }
    const best = candidates.sort((x, y) => newestFirst(x.artifact, y.artifact))[0];
    const envId = await environmentIdByName(this.db, appRow.projectId, env);
    if (!best || envId === undefined || (await this.artifacts.current(appRow.id, envId)) === best.artifact.digest)
      return false;
    const artifactId = await artifactIdByDigest(this.db, appRow.id, best.artifact.digest);
    if (artifactId === undefined) throw new NotFound('artifact', `${project}/${app}@${best.artifact.digest}`);
    return this.fire(
      'binding:track-latest',
      appRow.id,
      {
        digest: best.artifact.digest,
        from: best.from,
        to: [env],
        comment: `track-latest: newest soaked build of ${best.from}`,
      },
      { key: `latest:${appRow.id}:${env}:${artifactId}`, requireApproval: false },
    );
  }

  /**
   * Artifacts whose soak time in an environment ended since the last tick (of any replica) get their rules run;
   * answers the promotions opened, or undefined when another replica holds the tick.
   */
  tick(now = this.clock()): Promise<number | undefined> {
    return this.ticker.tick(now);
  }
}
