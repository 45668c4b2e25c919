/**
 * Promotion requests: move an artifact's digest from an environment it is in to one or more environments the
 * pipeline allows. Each target is decided on its own: the policy that applies there is evaluated (its version and
 * the values it saw are kept), then it waits for approvals, is queued, or is rejected with the reasons. Approvals
 * count only from promoters (or owners) of the project whose role covers that environment, once per person, and
 * separation of duties is enforced here, on the server, with the reason in the refusal.
 */
import type { Insertable, Kysely, Selectable } from 'kysely';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.ts';
import { evaluatePolicy, type Verdict } from '../policy/evaluate.ts';
import { policyVariables } from '../policy/inputs.ts';
import { targetsInContext } from '../store/promotion-targets.query.ts';
import type { Schema, TargetState } from '../store/schema.ts';
import type { ArtifactView, Artifacts } from './artifacts.service.ts';
import { audited, type Actor } from './audited.ts';
import type { Environments } from './environments.service.ts';
import type { Identity } from './identity.ts';
import type { Policies, PolicyView } from './policies.service.ts';
import { Outbox, type PromotionNotice } from './outbox.ts';
import { targetTag } from './promotion-runner.ts';
import { newId } from './tokens.ts';
import { describeWindow, isOpen, nextOpening } from '../automation/window.ts';

export const SIGNATURE_TYPES = [
  'application/vnd.dev.cosign.artifact.sig.v1+json',
  'application/vnd.cncf.notary.signature',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
];
const FINAL: readonly TargetState[] = ['PROMOTED', 'REJECTED', 'CANCELED', 'STALE'];

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

/** The automation fired already for this key: nothing was requested. */
export class AlreadyFired extends Error {}

export interface TargetView {
  environment: string;
  state: TargetState;
  policy: { name: string; version: number } | null;
  approvalsNeeded: number;
  approvals: Array<{ username: string; decision: 'approve' | 'reject'; comment: string; at: string }>;
  reasons: string[];
  verdict: Verdict | null;
}

export interface HistoryEntry {
  at: string;
  request: string;
  application: string;
  from: string;
  to: string;
  digest: string;
  tag: string | null;
  state: TargetState;
  requestedBy: string;
  comment: string;
  approvals: Array<{ username: string; decision: 'approve' | 'reject'; at: string }>;
  policy: { name: string; version: number; allowed: boolean } | null;
  bytesCopied: number;
  reason: string | null;
}

export interface PromotionView {
  id: string;
  project: string;
  application: string;
  digest: string;
  from: string;
  requestedBy: string;
  comment: string;
  createdAt: string;
  targets: TargetView[];
}

/** Whether a person may decide on a target: a promoter or owner of the project whose role covers the environment. */
export function mayDecide(identity: Identity, project: string, environment: string): boolean {
  return identity.memberships.some(
    (m) =>
      m.project === project &&
      (m.role === 'promoter' || m.role === 'owner') &&
      (m.environments === null || m.environments.includes(environment)),
  );
}

/** Separation of duties: why this person may not approve, or undefined. */
export function dutyConflict(
  policy: PolicyView | undefined,
  approver: string,
  requester: string,
  builder: string | undefined,
): string | undefined {
  if (approver === requester && !(policy?.allowRequesterFromApprove ?? false))
    return 'you requested this promotion, and the policy does not let a requester approve (allowRequesterFromApprove)';
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

/** The policy variables for an artifact moving from → to at the request of `user` (rules evaluate these too). */
export function artifactVariables(
  artifact: ArtifactView,
  from: string,
  to: string,
  user: string,
  now: Date,
): Record<string, unknown> {
  return policyVariables({
    image: {
      repository: artifact.repository,
      tag: artifact.tag ?? '',
      digest: artifact.digest,
      labels: artifact.labels,
      annotations: artifact.annotations,
      created: artifact.created ? new Date(artifact.created) : null,
      platforms: artifact.platforms,
    },
    build: artifact.build,
    scan: artifact.scan,
    sbom: artifact.sbom,
    signaturePresent: artifact.referrers.some(
      (r) => r.artifactType !== null && SIGNATURE_TYPES.includes(r.artifactType),
    ),
    source: from,
    target: to,
    user,
    now,
  });
}

function verdictOf(policy: PolicyView | undefined, vars: Record<string, unknown>): Verdict {
  return policy
    ? evaluatePolicy({ pass: policy.passConditions, fail: policy.failConditions }, vars)
    : { allowed: true, reasons: [], conditions: [] };
}

const storable = (vars: Record<string, unknown>): string =>
  JSON.stringify(vars, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));

/** What a target records of the policy decision: which policy version, how many approvals, the verdict and its inputs. */
function decisionColumns(policy: PolicyView | undefined, verdict: Verdict, vars: Record<string, unknown>) {
  return {
    policy_name: policy?.name ?? null,
    policy_version: policy?.version ?? null,
    approvals_needed: policy?.approverCount ?? 0,
    verdict: JSON.stringify(verdict),
    variables: storable(vars),
  };
}

export class Promotions {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly artifacts: Artifacts,
    private readonly environments: Environments,
    private readonly policies: Policies,
    /** Told when a target is queued, so the runner starts at once instead of at its next poll. */
    private readonly onQueued: () => void = () => {},
    private readonly outbox: Outbox = new Outbox(false),
  ) {}

  async request(
    actor: Actor & { isAdmin?: boolean },
    project: string,
    app: string,
    input: PromotionInput,
    automated?: Automated,
  ): Promise<PromotionView> {
    if (input.to.length === 0) throw new InvalidInput('name at least one target environment', 'to');
    const artifact = await this.artifacts.resolve(actor, project, app, input.from, {
      ...(input.tag !== undefined ? { tag: input.tag } : {}),
      ...(input.digest !== undefined ? { digest: input.digest } : {}),
    });
    const at = artifact.environments.find((e) => e.environment === input.from);
    if (!at) {
      throw new InvalidInput(
        `${artifact.digest} is not in ${input.from} (it is in ${artifact.environments.map((e) => e.environment).join(', ') || 'no environment'})`,
        'from',
      );
    }
    if (artifact.quarantine)
      throw new Conflict(
        `${artifact.digest} is quarantined (${artifact.quarantine.reason}, by ${artifact.quarantine.by}); lift it first: hoist unquarantine ${artifact.digest}`,
      );
    const envs = new Map((await this.environments.list(project)).map((e) => [e.name, e]));
    const now = new Date();
    const soak = envs.get(input.from)?.soakSeconds ?? 0;
    const soakedAt = new Date(Date.parse(at.since) + soak * 1000);
    if (soakedAt > now)
      throw new Conflict(
        `${artifact.digest} has been in ${input.from} since ${at.since}; ${input.from} has a soak time of ${soak} s, so it may leave at ${soakedAt.toISOString()}`,
      );
    if (input.overrideWindow && !actor.isAdmin)
      throw new Forbidden('only an admin may promote outside a promotion window (overrideWindow)');
    for (const to of input.to) {
      const windows = envs.get(to)?.windows ?? [];
      if (automated || input.overrideWindow || isOpen(windows, now)) continue;
      const next = nextOpening(windows, now);
      throw new Conflict(
        `${to} is outside its promotion windows (${windows.map(describeWindow).join('; ')})${next ? `; the next opens at ${next.toISOString()}` : ''}; try then, or ask an admin to override`,
      );
    }
    const pipeline = await this.environments.pipeline(project);
    const requestId = newId();
    const targets: Array<Insertable<Schema['promotion_targets']>> = [];
    const envNames = new Map<string, string>();
    for (const to of [...new Set(input.to)]) {
      if (!envs.has(to)) throw new InvalidInput(`project "${project}" has no environment "${to}"`, 'to');
      if (to === input.from) throw new InvalidInput(`${to} is where the image comes from`, 'to');
      const policy = await this.policies.forTarget(project, app, to);
      const vars = artifactVariables(artifact, input.from, to, actor.username, now);
      const verdict = verdictOf(policy, vars);
      const onEdge = pipeline.some((e) => e.from === input.from && e.to === to);
      const skipAllowed =
        (policy?.allowSkipStages ?? false) &&
        (envs.get(input.from)?.position ?? Infinity) < (envs.get(to)?.position ?? -Infinity);
      const reasons = [
        ...(onEdge || skipAllowed
          ? []
          : [
              `the pipeline has no edge ${input.from} → ${to}${policy ? ` and policy ${policy.name} does not allow skipping stages` : ''}`,
            ]),
        ...verdict.reasons,
      ];
      const columns = decisionColumns(policy, verdict, vars);
      if (automated?.requireApproval) columns.approvals_needed = Math.max(1, columns.approvals_needed);
      const state: TargetState =
        reasons.length > 0 ? 'REJECTED' : columns.approvals_needed === 0 ? 'QUEUED' : 'AWAITING_APPROVAL';
      const environmentId = (await this.envId(project, to)) as string;
      envNames.set(environmentId, to);
      targets.push({
        id: newId(),
        request_id: requestId,
        environment_id: environmentId,
        state,
        ...columns,
        reason: reasons.length > 0 ? reasons.join('; ') : null,
        updated_at: now,
        tag: automated?.tag ?? null,
        window_override: input.overrideWindow ?? false,
      });
    }
    const ids = await this.db
      .selectFrom('applications')
      .innerJoin('projects', 'projects.id', 'applications.project_id')
      .select(['applications.id as appId', 'projects.id as projectId'])
      .where('projects.name', '=', project)
      .where('applications.name', '=', app)
      .executeTakeFirstOrThrow();
    const artifactRow = await this.db
      .selectFrom('artifacts')
      .select('id')
      .where('application_id', '=', ids.appId)
      .where('digest', '=', artifact.digest)
      .executeTakeFirstOrThrow();
    // Looked up before the transaction: the embedded database has one connection, which the transaction holds.
    const sourceEnvId = (await this.envId(project, input.from)) as string;
    await audited(
      this.db,
      actor,
      { action: 'promotion.request', objectType: 'promotion', objectId: requestId },
      async (trx) => {
        if (automated) {
          const fired = await trx
            .insertInto('automation_firings')
            .values({ key: automated.key, artifact_id: artifactRow.id, request_id: requestId, at: now })
            .onConflict((oc) => oc.column('key').doNothing())
            .executeTakeFirst();
          if (Number(fired.numInsertedOrUpdatedRows ?? 0n) === 0) throw new AlreadyFired(automated.key);
        }
        await trx
          .insertInto('promotion_requests')
          .values({
            id: requestId,
            project_id: ids.projectId,
            application_id: ids.appId,
            artifact_id: artifactRow.id,
            digest: artifact.digest,
            source_env_id: sourceEnvId,
            requested_by: actor.username,
            comment: input.comment ?? '',
            created_at: now,
            tag: input.tag ?? at.tag,
          })
          .execute();
        for (const t of targets) await trx.insertInto('promotion_targets').values(t).execute();
        const base = {
          projectId: ids.projectId,
          project,
          application: app,
          requestId,
          digest: artifact.digest,
          from: input.from,
          actor: actor.username,
          requestedBy: actor.username,
          ...(input.comment ? { comment: input.comment } : {}),
        };
        const envOf = (state: TargetState) =>
          targets.filter((t) => t.state === state).map((t) => envNames.get(t.environment_id) ?? '');
        const states = Object.fromEntries(targets.map((t) => [envNames.get(t.environment_id) ?? '', t.state]));
        await this.outbox.add(
          trx,
          { ...base, event: 'promotion.requested', environments: Object.keys(states), states },
          now,
        );
        if (envOf('AWAITING_APPROVAL').length > 0)
          await this.outbox.add(
            trx,
            { ...base, event: 'promotion.approval_needed', environments: envOf('AWAITING_APPROVAL') },
            now,
          );
        for (const t of targets.filter((x) => x.state === 'REJECTED'))
          await this.outbox.add(
            trx,
            {
              ...base,
              event: 'promotion.rejected',
              environments: [envNames.get(t.environment_id) ?? ''],
              reason: t.reason ?? '',
            },
            now,
          );
        return {
          result: undefined,
          summary: {
            project,
            application: app,
            digest: artifact.digest,
            from: input.from,
            to: input.to,
            states: Object.fromEntries(targets.map((t, i) => [input.to[i] ?? '', t.state])),
            ...(automated ? { automation: automated.key } : {}),
            ...(input.overrideWindow ? { windowOverride: true } : {}),
          },
        };
      },
    );
    if (targets.some((t) => t.state === 'QUEUED')) this.onQueued();
    this.outbox.wake();
    return this.get(project, requestId);
  }

  private async envId(project: string, name: string): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('environments')
      .innerJoin('projects', 'projects.id', 'environments.project_id')
      .select('environments.id as id')
      .where('projects.name', '=', project)
      .where('environments.name', '=', name)
      .executeTakeFirst();
    return r?.id;
  }

  async get(project: string, id: string): Promise<PromotionView> {
    const r = await this.db
      .selectFrom('promotion_requests as r')
      .innerJoin('projects as p', 'p.id', 'r.project_id')
      .innerJoin('applications as a', 'a.id', 'r.application_id')
      .innerJoin('environments as s', 's.id', 'r.source_env_id')
      .select([
        'r.id',
        'p.name as project',
        'a.name as application',
        'r.digest',
        's.name as from',
        'r.requested_by',
        'r.comment',
        'r.created_at',
      ])
      .where('r.id', '=', id)
      .where('p.name', '=', project)
      .executeTakeFirst();
    if (!r) throw new NotFound('promotion', id);
    const targets = await this.db
      .selectFrom('promotion_targets as t')
      .innerJoin('environments as e', 'e.id', 't.environment_id')
      .selectAll('t')
      .select(['e.name as environment', 'e.position as position'])
      .where('t.request_id', '=', id)
      .orderBy('e.position')
      .execute();
    const decisions =
      targets.length === 0
        ? []
        : await this.db
            .selectFrom('promotion_decisions')
            .selectAll()
            .where(
              'target_id',
              'in',
              targets.map((t) => t.id),
            )
            .orderBy('at')
            .execute();
    return {
      id: r.id,
      project: r.project,
      application: r.application,
      digest: r.digest,
      from: r.from,
      requestedBy: r.requested_by,
      comment: r.comment,
      createdAt: r.created_at.toISOString(),
      targets: targets.map((t) => this.targetView(t, decisions)),
    };
  }

  private targetView(
    t: Selectable<Schema['promotion_targets']> & { environment: string },
    decisions: Array<Selectable<Schema['promotion_decisions']>>,
  ): TargetView {
    return {
      environment: t.environment,
      state: t.state,
      policy:
        t.policy_name !== null && t.policy_version !== null ? { name: t.policy_name, version: t.policy_version } : null,
      approvalsNeeded: t.approvals_needed,
      approvals: decisions
        .filter((d) => d.target_id === t.id)
        .map((d) => ({ username: d.username, decision: d.decision, comment: d.comment, at: d.at.toISOString() })),
      reasons: t.reason ? t.reason.split('; ') : [],
      verdict: t.verdict as Verdict | null,
    };
  }

  /** Approves or rejects the request's targets awaiting approval (only `environments` when given). */
  async decide(
    identity: Identity,
    requestId: string,
    project: string,
    decision: 'approve' | 'reject',
    comment: string,
    environments?: string[],
  ): Promise<PromotionView> {
    const view = await this.get(project, requestId);
    const pending = view.targets.filter(
      (t) => t.state === 'AWAITING_APPROVAL' && (environments === undefined || environments.includes(t.environment)),
    );
    if (pending.length === 0)
      throw new Conflict(
        `nothing in this request awaits approval${environments ? ` for ${environments.join(', ')}` : ''}`,
      );
    const artifact = await this.artifacts.get(project, view.application, view.digest);
    for (const t of pending) {
      if (!mayDecide(identity, project, t.environment))
        throw new Forbidden(
          `deciding on ${t.environment} needs the promoter role for ${t.environment} in project "${project}"`,
        );
      if (t.approvals.some((a) => a.username === identity.username))
        throw new Conflict(`you have decided on ${t.environment} already`);
      if (decision === 'approve') {
        const policy = t.policy ? await this.policies.get(t.policy.name, t.policy.version) : undefined;
        const conflict = dutyConflict(policy, identity.username, view.requestedBy, artifact.build.builder);
        if (conflict) throw new Forbidden(`${t.environment}: ${conflict}`, { roleHelps: false });
      }
    }
    const now = new Date();
    const actor: Actor = { username: identity.username };
    const projectId = (
      await this.db.selectFrom('projects').select('id').where('name', '=', project).executeTakeFirstOrThrow()
    ).id;
    await audited(
      this.db,
      actor,
      { action: `promotion.${decision}`, objectType: 'promotion', objectId: requestId },
      async (trx) => {
        const states: Record<string, TargetState> = {};
        for (const t of pending) {
          const row = await trx
            .selectFrom('promotion_targets as t')
            .innerJoin('environments as e', 'e.id', 't.environment_id')
            .select(['t.id', 't.state', 't.approvals_needed'])
            .where('t.request_id', '=', requestId)
            .where('e.name', '=', t.environment)
            .forUpdate()
            .executeTakeFirstOrThrow();
          if (row.state !== 'AWAITING_APPROVAL') continue;
          await trx
            .insertInto('promotion_decisions')
            .values({ target_id: row.id, username: identity.username, decision, comment, at: now })
            .execute();
          const approvals =
            t.approvals.filter((a) => a.decision === 'approve').length + (decision === 'approve' ? 1 : 0);
          const state: TargetState =
            decision === 'reject' ? 'REJECTED' : approvals >= row.approvals_needed ? 'QUEUED' : 'AWAITING_APPROVAL';
          await trx
            .updateTable('promotion_targets')
            .set({
              state,
              updated_at: now,
              ...(decision === 'reject'
                ? { reason: `rejected by ${identity.username}${comment ? `: ${comment}` : ''}` }
                : {}),
            })
            .where('id', '=', row.id)
            .execute();
          states[t.environment] = state;
        }
        const decided = Object.keys(states);
        if (decided.length > 0) {
          const notice: PromotionNotice = {
            event: decision === 'approve' ? 'promotion.approved' : 'promotion.rejected',
            projectId,
            project,
            application: view.application,
            requestId,
            digest: view.digest,
            from: view.from,
            environments: decided,
            actor: identity.username,
            requestedBy: view.requestedBy,
            states,
            ...(comment ? { comment } : {}),
          };
          await this.outbox.add(trx, notice, now);
        }
        return { result: undefined, summary: { decision, comment, states } };
      },
    );
    this.onQueued();
    this.outbox.wake();
    return this.get(project, requestId);
  }

  /** The requester withdraws every target that has not finished. */
  async cancel(identity: Identity, requestId: string, project: string): Promise<PromotionView> {
    const view = await this.get(project, requestId);
    if (view.requestedBy !== identity.username && !identity.isAdmin)
      throw new Forbidden(`only ${view.requestedBy}, who asked for it, can cancel this request`, { roleHelps: false });
    const open = view.targets.filter((t) => !FINAL.includes(t.state) && t.state !== 'PROMOTING');
    if (open.length === 0) throw new Conflict('nothing in this request can be canceled any more');
    await audited(
      this.db,
      { username: identity.username },
      { action: 'promotion.cancel', objectType: 'promotion', objectId: requestId },
      async (trx) => {
        await trx
          .updateTable('promotion_targets')
          .set({ state: 'CANCELED', updated_at: new Date(), reason: `canceled by ${identity.username}` })
          .where('request_id', '=', requestId)
          .where('state', 'in', ['AWAITING_APPROVAL', 'QUEUED', 'FAILED'])
          .execute();
        return { result: undefined, summary: { canceled: open.map((t) => t.environment) } };
      },
    );
    return this.get(project, requestId);
  }

  /** Requests of a project, newest first; `state` and `environment` narrow them. */
  async list(
    project: string,
    f: { state?: TargetState; environment?: string; limit?: number } = {},
  ): Promise<PromotionView[]> {
    let q = this.db
      .selectFrom('promotion_requests as r')
      .innerJoin('projects as p', 'p.id', 'r.project_id')
      .select('r.id')
      .where('p.name', '=', project)
      .orderBy('r.created_at', 'desc')
      .limit(Math.min(f.limit ?? 100, 1000));
    if (f.state !== undefined || f.environment !== undefined) {
      q = q.where(({ exists, selectFrom }) => {
        let sub = selectFrom('promotion_targets as t')
          .innerJoin('environments as e', 'e.id', 't.environment_id')
          .select('t.id')
          .whereRef('t.request_id', '=', 'r.id');
        if (f.state !== undefined) sub = sub.where('t.state', '=', f.state);
        if (f.environment !== undefined) sub = sub.where('e.name', '=', f.environment);
        return exists(sub);
      });
    }
    return Promise.all((await q.execute()).map((r) => this.get(project, r.id)));
  }

  /**
   * What happened: finished targets (promoted, rejected, failed, canceled, stale), newest first, with who asked,
   * from where to where, the digest and tag, the comment, the approvals, the policy version and verdict, and the
   * bytes copied. Filters narrow by application, environment, digest, requesting user and time.
   */
  async history(
    project: string,
    f: { app?: string; env?: string; digest?: string; user?: string; since?: Date; limit?: number } = {},
  ): Promise<HistoryEntry[]> {
    let q = targetsInContext(this.db)
      .select([
        't.id',
        'r.id as requestId',
        't.updated_at as at',
        'r.requested_by as requestedBy',
        'a.name as application',
        's.name as from',
        'e.name as to',
        'r.digest',
        'r.comment',
        't.state',
        't.policy_name',
        't.policy_version',
        't.verdict',
        't.result',
        't.reason',
        't.tag as chosenTag',
        'r.tag as requestedTag',
        'e.kind as targetKind',
        'e.tag_template as targetTemplate',
      ])
      .where('p.name', '=', project)
      .where('t.state', 'in', ['PROMOTED', 'REJECTED', 'FAILED', 'CANCELED', 'STALE'])
      .orderBy('t.updated_at', 'desc')
      .limit(Math.min(f.limit ?? 100, 1000));
    if (f.app !== undefined) q = q.where('a.name', '=', f.app);
    if (f.env !== undefined) q = q.where('e.name', '=', f.env);
    if (f.digest !== undefined) q = q.where('r.digest', '=', f.digest);
    if (f.user !== undefined) q = q.where('r.requested_by', '=', f.user);
    if (f.since !== undefined) q = q.where('t.updated_at', '>=', f.since);
    const rows = await q.execute();
    const decisions =
      rows.length === 0
        ? []
        : await this.db
            .selectFrom('promotion_decisions')
            .selectAll()
            .where(
              'target_id',
              'in',
              rows.map((r) => r.id),
            )
            .orderBy('at')
            .execute();
    return rows.map((r) => {
      const result = r.result as {
        tag?: string | null;
        bytesStreamed?: number;
        blobsMounted?: number;
        seconds?: number;
      } | null;
      const verdict = r.verdict as Verdict | null;
      return {
        at: r.at.toISOString(),
        request: r.requestId,
        application: r.application,
        from: r.from,
        to: r.to,
        digest: r.digest,
        // The tag written; for a target that never got that far, the one it would have written.
        tag:
          result?.tag ??
          r.chosenTag ??
          targetTag(r.targetKind, r.targetTemplate, r.application, r.requestedTag ?? null),
        state: r.state,
        requestedBy: r.requestedBy,
        comment: r.comment,
        approvals: decisions
          .filter((d) => d.target_id === r.id)
          .map((d) => ({ username: d.username, decision: d.decision, at: d.at.toISOString() })),
        policy:
          r.policy_name !== null
            ? { name: r.policy_name, version: r.policy_version ?? 0, allowed: verdict?.allowed ?? true }
            : null,
        bytesCopied: result?.bytesStreamed ?? 0,
        reason: r.reason,
      };
    });
  }

  /**
   * After a policy changed or went away: every target awaiting approval under it is evaluated again. One that no
   * longer passes becomes STALE with the reasons; one that passes takes the new version and approval count, and is
   * queued when it already has enough approvals.
   */
  async reevaluate(actor: Actor, policyName: string): Promise<number> {
    const pending = await targetsInContext(this.db)
      .select([
        't.id',
        'r.id as requestId',
        'p.name as project',
        'a.name as app',
        'e.name as to',
        's.name as from',
        'r.digest',
        'r.requested_by',
      ])
      .where('t.state', '=', 'AWAITING_APPROVAL')
      .where('t.policy_name', '=', policyName)
      .execute();
    let queued = false;
    for (const t of pending) {
      const artifact = await this.artifacts.get(t.project, t.app, t.digest);
      const policy = await this.policies.forTarget(t.project, t.app, t.to);
      const vars = artifactVariables(artifact, t.from, t.to, t.requested_by, new Date());
      const verdict = verdictOf(policy, vars);
      const approvals = await this.db
        .selectFrom('promotion_decisions')
        .select('username')
        .where('target_id', '=', t.id)
        .where('decision', '=', 'approve')
        .execute();
      const columns = decisionColumns(policy, verdict, vars);
      const state: TargetState = !verdict.allowed
        ? 'STALE'
        : approvals.length >= columns.approvals_needed
          ? 'QUEUED'
          : 'AWAITING_APPROVAL';
      queued ||= state === 'QUEUED';
      await audited(
        this.db,
        actor,
        { action: 'promotion.reevaluate', objectType: 'promotion', objectId: t.requestId },
        async (trx) => {
          await trx
            .updateTable('promotion_targets')
            .set({
              state,
              ...columns,
              reason: state === 'STALE' ? `policy ${policyName} changed: ${verdict.reasons.join('; ')}` : null,
              updated_at: new Date(),
            })
            .where('id', '=', t.id)
            .where('state', '=', 'AWAITING_APPROVAL')
            .execute();
          return {
            result: undefined,
            summary: {
              environment: t.to,
              policy: policy ? { name: policy.name, version: policy.version } : null,
              state,
            },
          };
        },
      );
    }
    if (queued) this.onQueued();
    return pending.length;
  }

  /**
   * May `deployer` run `digest` in `environment`? Only if it was promoted there, and not by a person who approved
   * that promotion unless its policy allows approvers to deploy.
   */
  async deployable(
    project: string,
    environment: string,
    digest: string,
    deployer?: string,
  ): Promise<{ allowed: boolean; reason: string; promotion?: string }> {
    const rows = await this.db
      .selectFrom('promotion_targets as t')
      .innerJoin('promotion_requests as r', 'r.id', 't.request_id')
      .innerJoin('projects as p', 'p.id', 'r.project_id')
      .innerJoin('environments as e', 'e.id', 't.environment_id')
      .select(['t.id', 'r.id as requestId', 't.policy_name', 't.policy_version', 't.updated_at'])
      .where('p.name', '=', project)
      .where('e.name', '=', environment)
      .where('r.digest', '=', digest)
      .where('t.state', '=', 'PROMOTED')
      .orderBy('t.updated_at', 'desc')
      .execute();
    const latest = rows[0];
    if (!latest) return { allowed: false, reason: `${digest} was never promoted to ${environment}` };
    if (deployer !== undefined) {
      const approved = await this.db
        .selectFrom('promotion_decisions')
        .select('username')
        .where('target_id', '=', latest.id)
        .where('decision', '=', 'approve')
        .where('username', '=', deployer)
        .executeTakeFirst();
      if (approved) {
        const policy =
          latest.policy_name !== null && latest.policy_version !== null
            ? await this.policies.get(latest.policy_name, latest.policy_version).catch(() => undefined)
            : undefined;
        if (!(policy?.allowApproverFromDeploy ?? false)) {
          return {
            allowed: false,
            reason: `${deployer} approved this promotion, and the policy does not let an approver deploy it (allowApproverFromDeploy)`,
            promotion: latest.requestId,
          };
        }
      }
    }
    return {
      allowed: true,
      reason: `promoted to ${environment} on ${latest.updated_at.toISOString()}`,
      promotion: latest.requestId,
    };
  }
}
