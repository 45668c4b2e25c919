/**
 * Releases: a named set of (application, digest) pairs of one project (`shop-1.4`: web and api at these digests),
 * made from the pairs given or from what an environment holds now, and promoted like a single artifact — one request,
 * each target decided on the whole set (./../release/plan-release.ts over each application's own plan), approved once,
 * carried out all or none by the runner (./release-run.ts), one history entry listing every digest. The request is an
 * ordinary promotion request marked with its release, so listing, approving, rejecting and cancelling it are the
 * promotions' own (./promotions.service.ts asks `planOnRelease` for decisions and `withReleases` for views).
 */
import type { Kysely, Transaction } from 'kysely';
import { Conflict, InvalidInput, NotFound } from '../errors.ts';
import type { DecisionContext, DecisionPlan } from '../promotion/plan-decision.ts';
import { planPromotion } from '../promotion/plan.ts';
import { planRelease, type ReleasePart, type ReleasePlan } from '../release/plan-release.ts';
import { planReleaseDecision } from '../release/plan-release-decision.ts';
import { appendAudit } from '../store/audit.repository.ts';
import { environmentIdByName } from '../store/environments.repository.ts';
import { projectIdByName } from '../store/projects.repository.ts';
import { loadPromotionContext } from '../store/promotion-context.query.ts';
import { insertRequest } from '../store/promotions.repository.ts';
import {
  artifactsByDigest,
  findReleases,
  heldIn,
  insertRelease,
  insertReleaseRequest,
  releaseDecisionFacts,
  releasesOfRequests,
  requestsOfRelease,
  type ReleaseItemRow,
  type ReleaseRow,
  type RequestRelease,
} from '../store/releases.repository.ts';
import type { Schema } from '../store/schema.ts';
import type { Actor } from './audited.ts';
import { systemClock, type Clock } from './clock.ts';
import { Outbox, type PromotionNotice } from './outbox.ts';
import type { Page } from './page.ts';
import { refusalError } from './promotion-executor.ts';
import type { PromotionView } from './promotion-views.ts';
import { newId } from './tokens.ts';

export interface ReleaseInput {
  name: string;
  comment?: string;
  /** The pairs, by application name; or `from`: what that environment holds now. */
  applications?: Array<{ application: string; digest: string }>;
  from?: string;
}

export interface ReleasePromotionInput {
  /** Where the images come from; default: the environment the release was made from. */
  from?: string;
  to: string[];
  comment?: string;
  overrideWindow?: boolean;
}

export interface ReleaseView {
  name: string;
  project: string;
  comment: string;
  /** The environment it was made from (`--from`), or null. */
  from: string | null;
  createdBy: string;
  createdAt: string;
  applications: Array<{ application: string; digest: string }>;
  /** Its promotion requests, newest first (only when one release is asked for). */
  promotions?: Array<{
    id: string;
    from: string;
    requestedBy: string;
    createdAt: string;
    targets: Array<{ environment: string; state: string }>;
  }>;
}

const viewOf = (r: ReleaseRow): ReleaseView => ({
  name: r.name,
  project: r.project,
  comment: r.comment,
  from: r.from,
  createdBy: r.createdBy,
  createdAt: r.createdAt.toISOString(),
  applications: r.items.map((i) => ({ application: i.application, digest: i.digest })),
});

/** The views of these requests (or history entries), each with the release it promotes, if any. */
export async function withReleases<T extends { release?: RequestRelease }>(
  db: Kysely<Schema>,
  views: T[],
  requestOf: (view: T) => string,
): Promise<T[]> {
  const releases = await releasesOfRequests(db, views.map(requestOf));
  if (releases.size === 0) return views;
  return views.map((v) => {
    const release = releases.get(requestOf(v));
    return release ? { ...v, release } : v;
  });
}

/**
 * The decision plan for a request locked in `trx`: for a release's request, planned once per application with that
 * application's policies and builder (src/release/plan-release-decision.ts); for any other, `plan(context)`.
 */
export async function planOnRelease<C extends DecisionContext>(
  trx: Transaction<Schema>,
  context: C,
  plan: (context: C) => DecisionPlan,
): Promise<DecisionPlan> {
  const parts = await releaseDecisionFacts(trx, context.request.id);
  return parts ? planReleaseDecision(context, parts, plan) : plan(context);
}

/**
 * A FAILED target of a release's request is not re-queued by `hoist retry` (which re-checks one application's
 * policy): the release is promoted again, checked for every application.
 */
export async function refuseReleaseRetry(trx: Transaction<Schema>, requestId: string): Promise<void> {
  const release = (await releasesOfRequests(trx, [requestId])).get(requestId);
  if (release)
    throw new Conflict(
      `this request promotes release ${release.name}: promote the release again (hoist release promote ${release.name}), which checks every application's policy`,
    );
}

export class Releases {
  constructor(
    private readonly db: Kysely<Schema>,
    /** Answers a promotion request as the API shows it (Promotions.get). */
    private readonly promotionView: (project: string, id: string) => Promise<PromotionView>,
    /** Told when a target is queued. */
    private readonly onQueued: () => void = () => {},
    private readonly outbox: Outbox = new Outbox(false),
    private readonly clock: Clock = systemClock,
  ) {}

  async create(actor: Actor, project: string, input: ReleaseInput): Promise<ReleaseView> {
    const projectId = await projectIdByName(this.db, project);
    if (!projectId) throw new NotFound('project', project);
    if ((input.applications === undefined) === (input.from === undefined))
      throw new InvalidInput('name the applications and digests, or the environment to take them from', 'from');
    const now = this.clock();
    const id = newId();
    let sourceEnvId: string | null = null;
    let items: ReleaseItemRow[];
    if (input.from !== undefined) {
      sourceEnvId = (await environmentIdByName(this.db, projectId, input.from)) ?? null;
      if (sourceEnvId === null) throw new NotFound('environment', `${project}/${input.from}`);
      items = await heldIn(this.db, projectId, input.from);
      if (items.length === 0) throw new InvalidInput(`${input.from} holds no image of project ${project}`, 'from');
    } else {
      const pairs = input.applications ?? [];
      const twice = pairs.find((p, i) => pairs.findIndex((q) => q.application === p.application) !== i);
      if (twice) throw new InvalidInput(`${twice.application} is named twice`, 'applications');
      if (pairs.length === 0) throw new InvalidInput('name at least one application', 'applications');
      items = await artifactsByDigest(this.db, projectId, pairs);
      const missing = pairs.find((p) => !items.some((i) => i.application === p.application && i.digest === p.digest));
      if (missing)
        throw new NotFound(
          'artifact',
          `${project}/${missing.application}@${missing.digest}`,
          'register it first (hoist artifact register)',
        );
      items.sort((a, b) => a.application.localeCompare(b.application));
    }
    const made = await this.db.transaction().execute(async (trx) => {
      const inserted = await insertRelease(trx, {
        id,
        projectId,
        name: input.name,
        comment: input.comment ?? '',
        sourceEnvId,
        createdBy: actor.username,
        at: now,
        items,
      });
      if (!inserted) return false;
      await appendAudit(trx, {
        actor: actor.username,
        action: 'release.create',
        objectType: 'release',
        objectId: id,
        requestId: actor.requestId ?? null,
        at: now,
        summary: {
          project,
          name: input.name,
          ...(input.from !== undefined ? { from: input.from } : {}),
          applications: Object.fromEntries(items.map((i) => [i.application, i.digest])),
        },
      });
      return true;
    });
    if (!made) throw new Conflict(`project ${project} has a release named ${input.name} already`);
    return this.get(project, input.name, false);
  }

  async list(project: string, f: { limit?: number; cursor?: string } = {}): Promise<Page<ReleaseView>> {
    if (!(await projectIdByName(this.db, project))) throw new NotFound('project', project);
    const { items, nextCursor } = await findReleases(this.db, project, f);
    return { items: items.map(viewOf), nextCursor };
  }

  async get(project: string, name: string, withPromotions = true): Promise<ReleaseView> {
    const row = await this.row(project, name);
    if (!withPromotions) return viewOf(row);
    const requests = await requestsOfRelease(this.db, row.id);
    return {
      ...viewOf(row),
      promotions: requests.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
    };
  }

  private async row(project: string, name: string): Promise<ReleaseRow> {
    const row = (await findReleases(this.db, project, { name, limit: 1 })).items[0];
    if (!row) throw new NotFound('release', `${project}/${name}`);
    return row;
  }

  /** The plan of a release's promotion: each application's own plan, combined. */
  private async plan(
    db: Kysely<Schema>,
    release: ReleaseRow,
    actor: Actor,
    input: ReleasePromotionInput & { from: string },
    now: Date,
  ): Promise<ReleasePlan> {
    const parts: ReleasePart[] = [];
    for (const item of release.items) {
      const context = await loadPromotionContext(db, { applicationId: item.applicationId }, { digest: item.digest });
      if (!context) throw new NotFound('application', `${release.project}/${item.application}`);
      const plan = planPromotion(
        context,
        {
          digest: item.digest,
          from: input.from,
          to: input.to,
          ...(input.comment !== undefined ? { comment: input.comment } : {}),
          ...(input.overrideWindow !== undefined ? { overrideWindow: input.overrideWindow } : {}),
        },
        { username: actor.username, isAdmin: actor.isAdmin ?? false },
        now,
      );
      parts.push({ application: item.application, plan });
    }
    return planRelease(parts);
  }

  /** Asks to promote the release from an environment it is in to others (one request for every application). */
  async promote(
    actor: Actor,
    project: string,
    name: string,
    input: ReleasePromotionInput,
  ): Promise<PromotionView & { release?: RequestRelease }> {
    const release = await this.row(project, name);
    const from = input.from ?? release.from;
    if (from === null)
      throw new InvalidInput(
        `name the environment release ${name}'s images come from (it was not made from one)`,
        'from',
      );
    const now = this.clock();
    const requestId = newId();
    const plan = await this.db.transaction().execute(async (trx) => {
      const planned = await this.plan(trx, release, actor, { ...input, from }, now);
      if (planned.refusal) throw refusalError(planned.refusal);
      await this.write(trx, release, planned, actor, requestId, input.overrideWindow ?? false, now);
      return planned;
    });
    if (plan.targets.some((t) => t.state === 'QUEUED')) this.onQueued();
    this.outbox.wake();
    return this.promotionView(project, requestId);
  }

  /** Writes a planned release request: the request and its targets, what makes it a release's, notices and audit. */
  private async write(
    trx: Transaction<Schema>,
    release: ReleaseRow,
    plan: ReleasePlan,
    actor: Actor,
    requestId: string,
    windowOverride: boolean,
    now: Date,
  ): Promise<void> {
    const first = plan.parts[0]?.plan;
    const from = first?.from;
    const items = plan.parts.map((p) => ({
      part: p,
      item: release.items.find((i) => i.application === p.application),
    }));
    if (!first || !from || !first.artifact) throw new Error('a release plan without refusal has its applications');
    const targets = plan.targets.map((t) => ({ ...t, id: newId() }));
    await insertRequest(trx, {
      id: requestId,
      projectId: release.projectId,
      applicationId: first.application.id,
      artifactId: first.artifact.id,
      digest: first.artifact.digest,
      sourceEnvId: from.id,
      requestedBy: actor.username,
      comment: first.comment,
      tag: first.tag,
      at: now,
      targets: targets.map((t) => ({
        id: t.id,
        environmentId: t.environment.id,
        state: t.state,
        // Each application's policy is in release_target_policies: decisions check every one of them.
        policy: null,
        approvalsNeeded: t.approvalsNeeded,
        verdict: t.verdict,
        variables: t.variables,
        reason: t.reasons.length > 0 ? t.reasons.join('; ') : null,
        blockedBy: t.blockedBy,
        tag: null,
        windowOverride,
      })),
    });
    await insertReleaseRequest(trx, {
      requestId,
      releaseId: release.id,
      items: items.map(({ part, item }) => ({
        applicationId: part.plan.application.id,
        application: part.application,
        artifactId: item?.artifactId ?? '',
        digest: item?.digest ?? '',
        sourceTag: part.plan.tag,
      })),
      policies: targets.flatMap((t) =>
        t.policies.map((p) => ({
          targetId: t.id,
          applicationId: plan.parts.find((x) => x.application === p.application)?.plan.application.id ?? '',
          name: p.policy.name,
          version: p.policy.version,
        })),
      ),
    });
    const applications = release.items.map((i) => ({ application: i.application, digest: i.digest }));
    const base: Omit<PromotionNotice, 'event' | 'environments'> = {
      projectId: release.projectId,
      project: release.project,
      application: first.application.name,
      requestId,
      digest: first.artifact.digest,
      from: from.name,
      actor: actor.username,
      requestedBy: actor.username,
      release: { name: release.name, applications },
      ...(first.comment ? { comment: first.comment } : {}),
    };
    await this.outbox.addRequested(trx, base, targets, plan.states);
    await appendAudit(trx, {
      actor: actor.username,
      action: 'promotion.request',
      objectType: 'promotion',
      objectId: requestId,
      requestId: actor.requestId ?? null,
      at: now,
      summary: {
        project: release.project,
        release: release.name,
        applications: Object.fromEntries(applications.map((a) => [a.application, a.digest])),
        from: from.name,
        to: Object.keys(plan.states),
        states: plan.states,
        ...(windowOverride ? { windowOverride: true } : {}),
      },
    });
  }
}
