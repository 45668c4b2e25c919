/**
 * The promotion plan, computed purely from a `PromotionContext`: whether the request may be made at all (the
 * artifact is where it is said to be, not quarantined, has soaked; the targets exist and their windows are open or
 * an admin overrides), then each distinct target decided on its own (./decide-target.ts). The executor
 * (src/service/promotion-executor.ts) only writes what this says; the preview endpoint answers it unchanged.
 */
import { describeWindow, isOpen, nextOpening } from '../automation/window.ts';
import type { Blocker } from './blocked-by.ts';
import { reasonsOf } from './blocked-by.ts';
import type { EnvironmentFacts, PromotionContext } from './context.ts';
import { decideTarget, type TargetDecision } from './decide-target.ts';
import type { Refusal } from './refusal.ts';

export interface PromotionInput {
  digest?: string;
  tag?: string;
  from: string;
  to: string[];
  comment?: string;
  /** Admins only: let it in outside the target's promotion windows (audited). */
  overrideWindow?: boolean;
}

/** What an automation (a rule, a track-latest or pin binding) adds to a request it opens. */
export interface Automated {
  /** One firing per key: a second request for the same key is not made (none twice, whatever the event count). */
  key: string;
  /** At least one approval even where the policy needs none (a rule in `request` mode, a pin change). */
  requireApproval: boolean;
  /** The tag to write at the target (a rule's tag template), instead of the environment's convention. */
  tag?: string;
}

export interface PlanRequester {
  username: string;
  isAdmin: boolean;
}

export interface TargetPlan extends TargetDecision {
  environment: EnvironmentFacts;
  /** The refusing blockers' messages (`reasons` in the API). */
  reasons: string[];
  tag: string | null;
  windowOverride: boolean;
}

export interface PromotionPlan {
  /** Set when the request may not be made; nothing is written then. */
  refusal: Refusal | null;
  project: { id: string; name: string };
  application: { id: string; name: string };
  artifact: { id: string; digest: string } | null;
  from: EnvironmentFacts | null;
  requester: string;
  comment: string;
  /** The tag the request named, or the image's tag in the source environment. */
  tag: string | null;
  automated: Automated | null;
  /** One per distinct target environment, in the order first named. */
  targets: TargetPlan[];
  /** Target state by environment name (what the audit entry and the `requested` notice say). */
  states: Record<string, TargetPlan['state']>;
}

function refusalOf(blockers: readonly Blocker[]): Refusal | null {
  const first = blockers.find((b) => b.kind === 'quarantine' || b.kind === 'soak' || b.kind === 'window');
  return first && 'message' in first ? { kind: 'conflict', message: first.message } : null;
}

/** Decisions already made on a target, by environment name (a retried request keeps its approvals). */
export type PriorDecisions = ReadonlyMap<string, { approvedBy: readonly string[]; decidedBy: readonly string[] }>;

export function planPromotion(
  context: PromotionContext,
  input: PromotionInput,
  requester: PlanRequester,
  now: Date,
  automated: Automated | null = null,
  prior: PriorDecisions = new Map(),
): PromotionPlan {
  const envs = new Map(context.environments.map((e) => [e.name, e]));
  const from = envs.get(input.from) ?? null;
  const names = [...new Set(input.to)];
  const plan: PromotionPlan = {
    refusal: null,
    project: context.project,
    application: context.application,
    artifact: context.artifact ? { id: context.artifact.id, digest: context.artifact.digest } : null,
    from,
    requester: requester.username,
    comment: input.comment ?? '',
    tag: input.tag ?? null,
    automated,
    targets: [],
    states: {},
  };
  const refuse = (refusal: Refusal): PromotionPlan => ({ ...plan, refusal });
  const artifact = context.artifact;
  if (names.length === 0)
    return refuse({ kind: 'invalid', message: 'name at least one target environment', field: 'to' });
  if (input.digest === undefined && input.tag === undefined)
    return refuse({ kind: 'invalid', message: 'name the image by --digest or --tag', field: 'digest' });
  const { project, application } = context;
  if (!artifact)
    return refuse({
      kind: 'not-found',
      objectType: 'artifact',
      name:
        input.digest !== undefined
          ? `${project.name}/${application.name}@${input.digest}`
          : `${project.name}/${application.name}:${input.tag ?? ''} in ${input.from}`,
    });
  const at = artifact.locations.find((l) => l.environment === input.from);
  if (!at || !from)
    return refuse({
      kind: 'invalid',
      message: `${artifact.digest} is not in ${input.from} (it is in ${artifact.locations.map((l) => l.environment).join(', ') || 'no environment'})`,
      field: 'from',
    });
  if (input.overrideWindow && !requester.isAdmin)
    return refuse({
      kind: 'forbidden',
      message: 'only an admin may promote outside a promotion window (overrideWindow)',
    });
  for (const name of names) {
    if (!envs.has(name))
      return refuse({
        kind: 'invalid',
        message: `project "${project.name}" has no environment "${name}"`,
        field: 'to',
      });
    if (name === input.from)
      return refuse({ kind: 'invalid', message: `${name} is where the image comes from`, field: 'to' });
  }

  // A digest has many tags (dev-9, then v9); one it never had may not be named with it (policies judge the tag).
  const known = new Set([...artifact.tags, ...artifact.locations.map((l) => l.tag), artifact.tag]);
  if (input.tag !== undefined && !known.has(input.tag))
    return refuse({
      kind: 'invalid',
      message: `${artifact.digest} was never tagged ${input.tag} (its tags: ${[...known].filter((t) => t !== null).join(', ') || 'none'})`,
      field: 'tag',
    });
  plan.tag = input.tag ?? at.tag;
  // Blockers of the whole request: they pass with time or an admin's act, so the request is refused, not recorded.
  const held: Blocker[] = [];
  if (artifact.quarantine)
    held.push({
      kind: 'quarantine',
      reason: artifact.quarantine.reason,
      by: artifact.quarantine.by,
      message: `${artifact.digest} is quarantined (${artifact.quarantine.reason}, by ${artifact.quarantine.by}); lift it first: hoist unquarantine ${artifact.digest}`,
    });
  const soakedAt = new Date(at.since.getTime() + from.soakSeconds * 1000);
  if (soakedAt > now)
    held.push({
      kind: 'soak',
      environment: from.name,
      until: soakedAt.toISOString(),
      message: `${artifact.digest} has been in ${from.name} since ${at.since.toISOString()}; ${from.name} has a soak time of ${from.soakSeconds} s, so it may leave at ${soakedAt.toISOString()}`,
    });

  const edges = new Set(context.edges.map((e) => `${e.from}\u0000${e.to}`));
  // Policies judge the request's tag: the one it names (an event's, `--tag`), else the one the image has in the
  // source environment, else the one it was first seen with. Re-evaluation judges the same (the request keeps it).
  const seen = { ...artifact, tag: plan.tag ?? artifact.tag };
  for (const name of names) {
    const to = envs.get(name) as EnvironmentFacts;
    const decision = decideTarget(
      {
        artifact: seen,
        from,
        to,
        policy: context.policies[name] ?? null,
        onEdge: edges.has(`${from.name}\u0000${name}`),
        requester: requester.username,
        deciders: context.deciders,
        automationNeedsOne: automated?.requireApproval ?? false,
        ...prior.get(name),
      },
      now,
    );
    const blockedBy: Blocker[] = [...held, ...decision.blockedBy];
    // Automation's requests wait in QUEUED for the window (the runner holds them); people's are refused outside it.
    if (!automated && !input.overrideWindow && !isOpen(to.windows, now)) {
      const next = nextOpening(to.windows, now);
      blockedBy.unshift({
        kind: 'window',
        opensAt: next?.toISOString() ?? null,
        message: `${name} is outside its promotion windows (${to.windows.map(describeWindow).join('; ')})${next ? `; the next opens at ${next.toISOString()}` : ''}; try then, or ask an admin to override`,
      });
    }
    const refused = blockedBy.some((b) => b.kind !== 'approvals');
    const target: TargetPlan = {
      ...decision,
      state: refused ? 'REJECTED' : decision.state,
      blockedBy,
      environment: to,
      reasons: reasonsOf(blockedBy),
      tag: automated?.tag ?? null,
      windowOverride: input.overrideWindow ?? false,
    };
    plan.targets.push(target);
    plan.states[name] = target.state;
  }
  const whole = refusalOf([...held, ...plan.targets.flatMap((t) => t.blockedBy)]);
  return whole ? refuse(whole) : plan;
}
