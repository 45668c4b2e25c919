/**
 * Who may decide on a target, and who may approve it: promoters or owners of the project whose role covers the
 * environment, and not barred by separation of duties (the requester, the image's builder) unless the policy allows.
 */
import type { DeciderFacts, PolicyFacts } from './context.ts';

export interface CallerMembership {
  project: string;
  role: string;
  environments: string[] | null;
}

export interface Caller {
  username: string;
  isAdmin: boolean;
  memberships: readonly CallerMembership[];
}

/** Whether a person may decide on a target: a promoter or owner of the project whose role covers the environment. */
export function mayDecide(caller: Pick<Caller, 'memberships'>, project: string, environment: string): boolean {
  return caller.memberships.some(
    (m) =>
      m.project === project &&
      (m.role === 'promoter' || m.role === 'owner') &&
      (m.environments === null || m.environments.includes(environment)),
  );
}

type DutyFlags = Pick<PolicyFacts, 'allowRequestFromApprove' | 'allowImageBuilderFromApprove'>;

/** Separation of duties: why this person may not approve, or undefined. */
export function dutyConflict(
  policy: DutyFlags | null | undefined,
  approver: string,
  requester: string,
  builder: string | undefined,
): string | undefined {
  if (approver === requester && !(policy?.allowRequestFromApprove ?? false))
    return 'you requested this promotion, and the policy does not let a requester approve (allowRequestFromApprove)';
  if (
    builder !== undefined &&
    builder !== '' &&
    approver === builder &&
    !(policy?.allowImageBuilderFromApprove ?? false)
  ) {
    return "you built this image, and the policy does not let the image's builder approve (allowImageBuilderFromApprove)";
  }
  return undefined;
}

/** Who could still approve a target: deciders covering the environment, not barred, who have not decided yet. */
export function eligibleApprovers(
  deciders: readonly DeciderFacts[],
  environment: string,
  policy: DutyFlags | null | undefined,
  requester: string,
  builder: string | undefined,
  decided: ReadonlySet<string> = new Set(),
): string[] {
  return deciders
    .filter((d) => d.environments === null || d.environments.includes(environment))
    .map((d) => d.username)
    .filter((u) => !decided.has(u) && dutyConflict(policy, u, requester, builder) === undefined)
    .filter((u, i, all) => all.indexOf(u) === i)
    .sort();
}

/**
 * Approvals a target needs: the policy's count; with no policy, one for a protected environment (an admin's gate
 * holds even when its policy is missing); at least one when an automation asks for a person (a rule in request mode).
 */
export function approvalsNeeded(
  policy: PolicyFacts | null | undefined,
  isProtected: boolean,
  automationNeedsOne: boolean,
): { need: number; because: 'policy' | 'protected' | 'automation' } {
  const base = policy ? policy.approverCount : isProtected ? 1 : 0;
  if (automationNeedsOne && base < 1) return { need: 1, because: 'automation' };
  return { need: base, because: policy ? 'policy' : isProtected ? 'protected' : 'policy' };
}
