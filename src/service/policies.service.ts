/**
 * Promotion policies: CEL pass and fail conditions, the approvals an environment needs and the separation-of-duties
 * flags (Devtron's names). Every change that alters a policy makes a new version; evaluations name the version
 * they used. A policy applies to application × environment combinations, one policy per combination.
 */
import type { Kysely, Transaction } from 'kysely';
import { Conflict, InvalidInput, NotFound } from '../errors.ts';
import { refuseIfBound } from './binding-guard.ts';
import { deleteBinding } from '../store/policy-bindings.query.ts';
import { findApplicationByNames } from '../store/applications.repository.ts';
import { environmentIdByName } from '../store/environments.repository.ts';
import {
  bindPolicy,
  deletePolicy,
  findPolicyByName,
  getPolicyVersion,
  insertPolicy,
  insertPolicyVersion,
  policyAppliesTo,
  policyNameFor,
  policyNames,
  setPolicyVersion,
  type PolicyRow,
} from '../store/policies.repository.ts';
import { compileCondition } from '../policy/condition.ts';
import type { PolicyChange, Reevaluation } from '../promotion/plan-reevaluation.ts';
import type { Schema, TargetState } from '../store/schema.ts';
import type { WaitingFilter } from '../store/waiting-targets.query.ts';
import { audited, type Actor } from './audited.ts';
import { NAME } from './names.ts';
import { newId } from './tokens.ts';

export interface PolicyRules {
  description: string;
  passConditions: string[];
  failConditions: string[];
  approverCount: number;
  allowRequestFromApprove: boolean;
  allowImageBuilderFromApprove: boolean;
  allowApproverFromDeploy: boolean;
  /** Promotions into the environment may come from any earlier stage, without a pipeline edge (a hotfix). */
  allowSkipStages: boolean;
}

export type PolicyInput = { name: string } & Partial<PolicyRules>;

export interface Binding {
  project: string;
  application: string;
  environment: string;
}

export interface PolicyView extends PolicyRules {
  name: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  appliesTo: Binding[];
}

const DEFAULTS: PolicyRules = {
  description: '',
  passConditions: [],
  failConditions: [],
  approverCount: 0,
  allowRequestFromApprove: false,
  allowImageBuilderFromApprove: false,
  allowApproverFromDeploy: false,
  allowSkipStages: false,
};

export function checkRules(r: PolicyRules): void {
  if (!Number.isInteger(r.approverCount) || r.approverCount < 0 || r.approverCount > 6)
    throw new InvalidInput('a whole number from 0 to 6', 'approverCount');
  for (const [field, list] of [
    ['passConditions', r.passConditions],
    ['failConditions', r.failConditions],
  ] as const) {
    list.forEach((expr, i) => {
      const c = compileCondition(expr);
      if (!c.ok) throw new InvalidInput(c.error, `${field}[${i}]`);
    });
  }
}

/**
 * Re-evaluates the promotion targets a policy change concerns, inside the change's transaction (the promotions
 * service); `reevaluated` is told after the commit.
 */
export interface PolicyWatcher {
  reevaluateIn(
    trx: Transaction<Schema>,
    actor: Actor,
    change: PolicyChange,
    filter: WaitingFilter,
    opts?: { dryRun?: boolean },
  ): Promise<Reevaluation[]>;
  reevaluated(changes: readonly Reevaluation[]): void;
}

/** What a policy change did (or, previewed, would do) to a target that had not started. */
export interface AffectedTarget {
  request: string;
  project: string;
  application: string;
  environment: string;
  before: TargetState;
  after: TargetState;
  reason: string | null;
}

const affected = (changes: readonly Reevaluation[]): AffectedTarget[] =>
  changes.map((c) => ({
    request: c.requestId,
    project: c.project,
    application: c.application,
    environment: c.environment,
    before: c.before,
    after: c.state,
    reason: c.reason,
  }));

/** Thrown inside a preview's transaction to roll it back with what it found. */
class Rollback extends Error {
  constructor(readonly changes: Reevaluation[]) {
    super('preview');
  }
}

const NO_WATCHER: PolicyWatcher = { reevaluateIn: async () => [], reevaluated: () => {} };

export class Policies {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly watcher: PolicyWatcher = NO_WATCHER,
  ) {}

  private async row(name: string): Promise<PolicyRow> {
    const p = await findPolicyByName(this.db, name);
    if (!p) throw new NotFound('policy', name);
    return p;
  }

  private async rules(policyId: string, version: number): Promise<PolicyRules> {
    const v = await getPolicyVersion(this.db, policyId, version);
    return {
      description: v.description,
      passConditions: v.pass_conditions as string[],
      failConditions: v.fail_conditions as string[],
      approverCount: v.approver_count,
      allowRequestFromApprove: v.allow_requester_from_approve,
      allowImageBuilderFromApprove: v.allow_image_builder_from_approve,
      allowApproverFromDeploy: v.allow_approver_from_deploy,
      allowSkipStages: v.allow_skip_stages,
    };
  }

  private async bindings(policyId: string): Promise<Binding[]> {
    return policyAppliesTo(this.db, policyId);
  }

  async get(name: string, version?: number): Promise<PolicyView> {
    const p = await this.row(name);
    const v = version ?? p.current_version;
    if (v < 1 || v > p.current_version) throw new NotFound('policy version', `${name}@${v}`);
    return {
      name: p.name,
      version: v,
      ...(await this.rules(p.id, v)),
      createdAt: p.created_at.toISOString(),
      updatedAt: p.updated_at.toISOString(),
      appliesTo: await this.bindings(p.id),
    };
  }

  async list(): Promise<PolicyView[]> {
    return Promise.all((await policyNames(this.db)).map((name) => this.get(name)));
  }

  /** Creates, or updates into a new version when a rule changed; the same rules again change nothing. */
  async put(actor: Actor, input: PolicyInput, mode: 'create' | 'upsert'): Promise<PolicyView> {
    const changes = await this.change(actor, input, mode, false);
    this.watcher.reevaluated(changes);
    return this.get(input.name);
  }

  /** What updating the policy to `input` would do to the targets waiting under it; nothing is written. */
  async previewUpdate(actor: Actor, input: PolicyInput): Promise<AffectedTarget[]> {
    return affected(await this.change(actor, input, 'upsert', true));
  }

  /**
   * Writes the new version and re-evaluates the targets waiting under the policy, in one transaction; a dry run
   * does the same and rolls it back, answering what would have changed.
   */
  private async change(
    actor: Actor,
    input: PolicyInput,
    mode: 'create' | 'upsert',
    dryRun: boolean,
  ): Promise<Reevaluation[]> {
    if (!NAME.test(input.name)) throw new InvalidInput('use 1-63 lower-case letters, digits and "-"', 'name');
    const existing = await findPolicyByName(this.db, input.name);
    if (existing && mode === 'create') throw new Conflict(`policy "${input.name}" exists already`);
    if (!existing && dryRun) throw new NotFound('policy', input.name);
    const before = existing ? await this.rules(existing.id, existing.current_version) : undefined;
    const { name: _name, ...given } = input;
    const rules: PolicyRules = {
      ...DEFAULTS,
      ...before,
      ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
    };
    checkRules(rules);
    if (before && JSON.stringify(before) === JSON.stringify(rules)) return [];
    const now = new Date();
    const id = existing?.id ?? newId();
    const version = (existing?.current_version ?? 0) + 1;
    try {
      return await audited(
        this.db,
        actor,
        { action: existing ? 'policy.update' : 'policy.create', objectType: 'policy', objectId: input.name },
        async (trx) => {
          if (existing) await setPolicyVersion(trx, id, version, now);
          else
            await insertPolicy(trx, {
              id,
              name: input.name,
              current_version: version,
              created_at: now,
              updated_at: now,
            });
          await insertPolicyVersion(trx, {
            policy_id: id,
            version,
            description: rules.description,
            pass_conditions: JSON.stringify(rules.passConditions),
            fail_conditions: JSON.stringify(rules.failConditions),
            approver_count: rules.approverCount,
            allow_requester_from_approve: rules.allowRequestFromApprove,
            allow_image_builder_from_approve: rules.allowImageBuilderFromApprove,
            allow_approver_from_deploy: rules.allowApproverFromDeploy,
            allow_skip_stages: rules.allowSkipStages,
            created_by: actor.username,
            created_at: now,
          });
          const changes = existing
            ? await this.watcher.reevaluateIn(
                trx,
                actor,
                { kind: 'update', policy: input.name },
                { policyName: input.name },
                { dryRun },
              )
            : [];
          if (dryRun) throw new Rollback(changes);
          return {
            result: changes,
            summary: { version, before: before ?? null, after: rules, reevaluated: affected(changes) },
          };
        },
      );
    } catch (e) {
      if (e instanceof Rollback) return e.changes;
      throw e;
    }
  }

  /**
   * Deletes the policy. Targets still waiting under it become STALE (governance fails closed: they must be
   * requested again under the rules in force); when there are any, the deletion needs `force`, and without it is
   * refused with the list of what it would touch. Answers the targets it made stale.
   */
  async remove(actor: Actor, name: string, opts: { force?: boolean } = {}): Promise<AffectedTarget[]> {
    const p = await this.row(name);
    await refuseIfBound(this.db, `policy "${name}"`, { policyId: p.id });
    const changes = await audited(
      this.db,
      actor,
      { action: 'policy.delete', objectType: 'policy', objectId: name },
      async (trx) => {
        await deletePolicy(trx, p.id);
        const stale = await this.watcher.reevaluateIn(
          trx,
          actor,
          { kind: 'delete', policy: name },
          { policyName: name },
          { dryRun: !opts.force },
        );
        if (stale.length > 0 && !opts.force)
          throw new Conflict(
            `deleting policy ${name} would make ${stale.length} waiting promotion target(s) STALE (${affected(stale)
              .map((a) => `${a.project}/${a.application} → ${a.environment} in request ${a.request}`)
              .join(', ')}); they would have to be requested again. Delete with --force (force=true) to do it`,
            { affected: affected(stale) },
          );
        return {
          result: stale,
          summary: { before: { version: p.current_version }, stale: affected(stale) },
        };
      },
    );
    this.watcher.reevaluated(changes);
    return affected(changes);
  }

  /** Applies the policy to each application × environment (replacing the policy that applied there before). */
  async apply(actor: Actor, name: string, bindings: readonly Binding[]): Promise<PolicyView> {
    const p = await this.row(name);
    const resolved = await this.resolve(bindings);
    const combinations = resolved.map((r) => ({ applicationId: r.application_id, environmentId: r.environment_id }));
    const changes = await audited(
      this.db,
      actor,
      { action: 'policy.apply', objectType: 'policy', objectId: name },
      async (trx) => {
        for (const r of resolved) {
          await bindPolicy(trx, { policy_id: p.id, ...r });
        }
        // What was waiting to enter these combinations is now governed by this policy.
        const reevaluated = await this.watcher.reevaluateIn(
          trx,
          actor,
          { kind: 'apply', policy: name },
          { combinations },
        );
        return { result: reevaluated, summary: { appliedTo: bindings, reevaluated: affected(reevaluated) } };
      },
    );
    this.watcher.reevaluated(changes);
    return this.get(name);
  }

  /** Removes the policy from application × environment pairs (an admin's decision, audited); each must be bound. */
  async unapply(actor: Actor, name: string, bindings: readonly Binding[]): Promise<PolicyView> {
    const p = await this.row(name);
    const resolved = await this.resolve(bindings);
    const combinations = resolved.map((r) => ({ applicationId: r.application_id, environmentId: r.environment_id }));
    await audited(this.db, actor, { action: 'policy.unapply', objectType: 'policy', objectId: name }, async (trx) => {
      for (const [i, r] of resolved.entries()) {
        if (!(await deleteBinding(trx, p.id, r.application_id, r.environment_id))) {
          const b = bindings[i] as Binding;
          throw new InvalidInput(
            `policy "${name}" does not apply to ${b.project}/${b.application} → ${b.environment}`,
            `applicationEnvironments[${i}]`,
          );
        }
      }
      // Targets waiting to enter these combinations under this policy must be requested again (fail closed).
      const stale = await this.watcher.reevaluateIn(trx, actor, { kind: 'unapply', policy: name }, { combinations });
      return { result: undefined, summary: { removedFrom: bindings, stale: affected(stale) } };
    });
    return this.get(name);
  }

  private async resolve(
    bindings: readonly Binding[],
  ): Promise<Array<{ application_id: string; environment_id: string }>> {
    const resolved: Array<{ application_id: string; environment_id: string }> = [];
    for (const [i, b] of bindings.entries()) {
      const app = await findApplicationByNames(this.db, b.project, b.application);
      if (!app)
        throw new InvalidInput(
          `project "${b.project}" has no application "${b.application}"`,
          `applicationEnvironments[${i}]`,
        );
      const envId = await environmentIdByName(this.db, app.projectId, b.environment);
      if (envId === undefined)
        throw new InvalidInput(
          `project "${b.project}" has no environment "${b.environment}"`,
          `applicationEnvironments[${i}]`,
        );
      resolved.push({ application_id: app.id, environment_id: envId });
    }
    return resolved;
  }

  /** The policy (current version) that applies to an application entering an environment, if any. */
  async forTarget(project: string, application: string, environment: string): Promise<PolicyView | undefined> {
    const name = await policyNameFor(this.db, project, application, environment);
    return name !== undefined ? this.get(name) : undefined;
  }
}
