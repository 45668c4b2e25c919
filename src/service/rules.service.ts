/**
 * Auto-promotion rules: when an artifact is in the source environment and matches the criteria (DTR-style, compiled
 * to one CEL expression that the rule shows), promote it to the target environment (`promote`: request and, where
 * the policy needs no approval, execute) or open a request for approvers (`request`). A tag template names the tag
 * it gets there; a template that cannot give a valid tag is refused when the rule is saved. The target's policy and
 * approvals always apply.
 */
import type { Kysely } from 'kysely';
import { compileCriteria, describeCriterion, parseCriteria, type Criterion } from '../automation/criteria.ts';
import { renderTagTemplate, validateTagTemplate } from '../automation/tag-template.ts';
import { Conflict, InvalidInput, NotFound } from '../errors.ts';
import { compileCondition } from '../policy/condition.ts';
import { applicationIdByName, applicationNames } from '../store/applications.repository.ts';
import { environmentIdByName } from '../store/environments.repository.ts';
import { projectIdByName } from '../store/projects.repository.ts';
import { deleteRule, findRule, insertRule, listRules, ruleExists, type RuleRow } from '../store/rules.repository.ts';
import type { Schema } from '../store/schema.ts';
import type { ArtifactView, Artifacts } from './artifacts.service.ts';
import { audited, type Actor } from './audited.ts';
import { NAME } from './names.ts';
import { artifactVariables } from './promotions.service.ts';
import { newId } from './tokens.ts';

export type RuleMode = 'promote' | 'request';

export interface RuleInput {
  name: string;
  /** Only this application's artifacts; all of the project's when absent. */
  application?: string | null;
  from: string;
  to: string;
  criteria?: unknown;
  /** A CEL expression instead of (or besides) criteria. */
  cel?: string;
  tagTemplate?: string | null;
  mode?: RuleMode;
  enabled?: boolean;
}

export interface RuleView {
  name: string;
  application: string | null;
  from: string;
  to: string;
  criteria: Criterion[];
  /** What the criteria compile to: the CEL expression hoist evaluates. */
  expression: string;
  description: string[];
  tagTemplate: string | null;
  mode: RuleMode;
  enabled: boolean;
  createdBy: string;
  createdAt: string;
}

export interface DryRunMatch {
  application: string;
  digest: string;
  tag: string | null;
  matches: boolean;
  error?: string;
  /** With a tag template, for a match: the tag the promotion would write now, or why the template cannot give one. */
  targetTag?: string;
  tagError?: string;
}

/** The tag a matching artifact would be promoted under, as the automation renders it (./automation.ts). */
function previewTag(template: string, tag: string | null, digest: string, env: string, app: string) {
  try {
    return { targetTag: renderTagTemplate(template, { tag: tag ?? 'latest', digest, env, app, now: new Date() }) };
  } catch (e) {
    if (e instanceof InvalidInput) return { tagError: e.message };
    throw e;
  }
}

const compiled = new Map<string, ReturnType<typeof compileCondition>>();

/** Compiles a rule's expression once (rules are few; a burst of pushes evaluates the same ones again and again). */
function compiledRule(expression: string): ReturnType<typeof compileCondition> {
  let c = compiled.get(expression);
  if (!c) {
    if (compiled.size >= 1000) compiled.clear();
    c = compileCondition(expression);
    compiled.set(expression, c);
  }
  return c;
}

/** Evaluates a rule's compiled expression against an artifact in its source environment. */
export function ruleMatches(
  expression: string,
  artifact: ArtifactView,
  from: string,
  to: string,
): { matches: boolean; error?: string } {
  const c = compiledRule(expression);
  if (!c.ok) return { matches: false, error: c.error };
  try {
    return { matches: c.value.run(artifactVariables(artifact, from, to, 'hoist', new Date())) === true };
  } catch (e) {
    return { matches: false, error: (e as Error).message };
  }
}

export class Rules {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly artifacts: Artifacts,
  ) {}

  private view(r: RuleRow): RuleView {
    const criteria = r.criteria as Criterion[];
    return {
      name: r.name,
      application: r.application,
      from: r.from,
      to: r.to,
      criteria,
      expression: r.expression,
      description: criteria.map(describeCriterion),
      tagTemplate: r.tag_template,
      mode: r.mode,
      enabled: r.enabled,
      createdBy: r.created_by,
      createdAt: r.created_at.toISOString(),
    };
  }

  private async projectId(project: string): Promise<string> {
    const id = await projectIdByName(this.db, project);
    if (id === undefined) throw new NotFound('project', project);
    return id;
  }

  /** Checks a rule and resolves its names; answers the row to store (without id and audit fields). */
  private async resolve(project: string, input: RuleInput) {
    if (!NAME.test(input.name)) throw new InvalidInput('use 1-63 lower-case letters, digits and "-"', 'name');
    const projectId = await this.projectId(project);
    const env = async (name: string, where: string): Promise<string> => {
      const id = await environmentIdByName(this.db, projectId, name);
      if (id === undefined) throw new InvalidInput(`project "${project}" has no environment "${name}"`, where);
      return id;
    };
    const sourceId = await env(input.from, 'from');
    const targetId = await env(input.to, 'to');
    if (sourceId === targetId) throw new InvalidInput('a rule promotes from one environment to another', 'to');
    let applicationId: string | null = null;
    if (input.application !== undefined && input.application !== null) {
      const id = await applicationIdByName(this.db, projectId, input.application);
      if (id === undefined)
        throw new InvalidInput(`project "${project}" has no application "${input.application}"`, 'application');
      applicationId = id;
    }
    const criteria = parseCriteria(input.criteria ?? [], 'criteria');
    if (input.cel !== undefined && input.cel.trim() !== '')
      criteria.push(...parseCriteria([{ field: 'cel', expression: input.cel }], 'cel'));
    const expression = compileCriteria(criteria);
    if (input.tagTemplate !== undefined && input.tagTemplate !== null)
      validateTagTemplate(input.tagTemplate, 'tagTemplate', {
        env: input.to,
        ...(input.application ? { app: input.application } : {}),
      });
    const mode = input.mode ?? 'promote';
    if (mode !== 'promote' && mode !== 'request') throw new InvalidInput('"promote" or "request"', 'mode');
    return {
      projectId,
      sourceId,
      targetId,
      applicationId,
      criteria,
      expression,
      mode,
      tagTemplate: input.tagTemplate ?? null,
    };
  }

  async list(project: string): Promise<RuleView[]> {
    const projectId = await this.projectId(project);
    return (await listRules(this.db, projectId)).map((r) => this.view(r));
  }

  async get(project: string, name: string): Promise<RuleView> {
    const projectId = await this.projectId(project);
    const r = await findRule(this.db, projectId, name);
    if (!r) throw new NotFound('rule', `${project}/${name}`);
    return this.view(r);
  }

  async create(actor: Actor, project: string, input: RuleInput): Promise<RuleView> {
    const v = await this.resolve(project, input);
    if (await ruleExists(this.db, v.projectId, input.name))
      throw new Conflict(`rule "${input.name}" exists already in project "${project}"`);
    const row = {
      id: newId(),
      project_id: v.projectId,
      name: input.name,
      application_id: v.applicationId,
      source_env_id: v.sourceId,
      target_env_id: v.targetId,
      criteria: JSON.stringify(v.criteria),
      expression: v.expression,
      tag_template: v.tagTemplate,
      mode: v.mode,
      enabled: input.enabled ?? true,
      created_by: actor.username,
      created_at: new Date(),
    };
    await audited(
      this.db,
      actor,
      { action: 'rule.create', objectType: 'rule', objectId: `${project}/${input.name}` },
      async (trx) => {
        await insertRule(trx, row);
        return {
          result: undefined,
          summary: {
            after: {
              from: input.from,
              to: input.to,
              application: input.application ?? null,
              expression: v.expression,
              tagTemplate: v.tagTemplate,
              mode: v.mode,
            },
          },
        };
      },
    );
    return this.get(project, input.name);
  }

  async remove(actor: Actor, project: string, name: string): Promise<void> {
    const before = await this.get(project, name);
    const projectId = await this.projectId(project);
    await audited(
      this.db,
      actor,
      { action: 'rule.delete', objectType: 'rule', objectId: `${project}/${name}` },
      async (trx) => {
        await deleteRule(trx, projectId, name);
        return { result: undefined, summary: { before } };
      },
    );
  }

  /**
   * Which artifacts now in the source environment the rule would match, and with a tag template the tag each match
   * would get (nothing is saved or promoted).
   */
  async dryRun(project: string, input: RuleInput): Promise<{ expression: string; artifacts: DryRunMatch[] }> {
    const v = await this.resolve(project, input);
    const apps = input.application ? [input.application] : await applicationNames(this.db, v.projectId);
    const artifacts: DryRunMatch[] = [];
    let since = performance.now();
    for (const app of apps) {
      for (const a of await this.artifacts.list(project, app, input.from)) {
        // Each evaluation has its own budget; many in a row still give the event loop a turn every 20 ms.
        if (performance.now() - since > 20) {
          await new Promise((resolve) => setImmediate(resolve));
          since = performance.now();
        }
        // Judged for the tag it has in the source environment now (the last one pushed), as a push would be.
        const tag = a.environments.find((e) => e.environment === input.from)?.tag ?? a.tag;
        const m = ruleMatches(v.expression, { ...a, tag }, input.from, input.to);
        artifacts.push({
          application: app,
          digest: a.digest,
          tag,
          matches: m.matches,
          ...(m.error ? { error: m.error } : {}),
          ...(m.matches && v.tagTemplate !== null ? previewTag(v.tagTemplate, tag, a.digest, input.to, app) : {}),
        });
      }
    }
    return { expression: v.expression, artifacts };
  }
}
