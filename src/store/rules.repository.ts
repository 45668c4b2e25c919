/**
 * Auto-promotion rules, as stored: per project, by name, with source and target environments (and the application
 * when a rule is limited to one), the criteria and the CEL expression they compile to.
 */
import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Schema } from './schema.ts';

/** A rule with its environments' names and its application's name (null: every application of the project). */
export type RuleRow = Selectable<Schema['rules']> & { from: string; to: string; application: string | null };

function rulesWithNames(db: Kysely<Schema>) {
  return db
    .selectFrom('rules as r')
    .innerJoin('environments as s', 's.id', 'r.source_env_id')
    .innerJoin('environments as t', 't.id', 'r.target_env_id')
    .leftJoin('applications as a', 'a.id', 'r.application_id')
    .selectAll('r')
    .select(['s.name as from', 't.name as to', 'a.name as application']);
}

/** The project's rules by name. */
export async function listRules(db: Kysely<Schema>, projectId: string): Promise<RuleRow[]> {
  return rulesWithNames(db).where('r.project_id', '=', projectId).orderBy('r.name').execute();
}

/** The project's rule named so, if any. */
export async function findRule(db: Kysely<Schema>, projectId: string, name: string): Promise<RuleRow | undefined> {
  return rulesWithNames(db).where('r.project_id', '=', projectId).where('r.name', '=', name).executeTakeFirst();
}

/** Whether the project has a rule named so. */
export async function ruleExists(db: Kysely<Schema>, projectId: string, name: string): Promise<boolean> {
  const r = await db
    .selectFrom('rules')
    .select('id')
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
  return r !== undefined;
}

/** Adds a rule. */
export async function insertRule(trx: Transaction<Schema>, row: Insertable<Schema['rules']>): Promise<void> {
  await trx.insertInto('rules').values(row).execute();
}

/** Deletes the project's rule named so. */
export async function deleteRule(trx: Transaction<Schema>, projectId: string, name: string): Promise<void> {
  await trx.deleteFrom('rules').where('project_id', '=', projectId).where('name', '=', name).execute();
}

/** A rule as automation runs it: its environments by name, its expression, tag template and mode. */
export interface EnabledRule {
  id: string;
  name: string;
  application_id: string | null;
  from: string;
  to: string;
  expression: string;
  tag_template: string | null;
  mode: 'promote' | 'request';
}

/** The project's enabled rules that apply to the application (its own and the project-wide ones), by name. */
export async function enabledRulesFor(
  db: Kysely<Schema>,
  projectId: string,
  applicationId: string,
): Promise<EnabledRule[]> {
  return db
    .selectFrom('rules as r')
    .innerJoin('environments as s', 's.id', 'r.source_env_id')
    .innerJoin('environments as t', 't.id', 'r.target_env_id')
    .select([
      'r.id',
      'r.name',
      'r.application_id',
      's.name as from',
      't.name as to',
      'r.expression',
      'r.tag_template',
      'r.mode',
    ])
    .where('r.project_id', '=', projectId)
    .where('r.enabled', '=', true)
    .where((eb) => eb.or([eb('r.application_id', 'is', null), eb('r.application_id', '=', applicationId)]))
    .orderBy('r.name')
    .execute();
}
