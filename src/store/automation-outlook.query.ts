/**
 * What automation reads first for an artifact that arrived in an environment, in one statement: the artifact with
 * its application and project, the project's enabled rules that apply to the application (its own and the
 * project-wide ones, by name, as enabledRulesFor answers them), whether each fired for the artifact already (its
 * firing key `rule:<rule>:<artifact>`, as ruleKey in src/service/automation.ts spells it, is taken), and the
 * application's bindings by environment name. Most arrivals stop there (no rule, no track-latest binding; or every
 * rule that could start where the artifact is fired already, as for a promotion's own arrival): one round trip
 * instead of four.
 */
import { sql, type Kysely } from 'kysely';
import type { EnabledRule } from './rules.repository.ts';
import type { Schema } from './schema.ts';

/** A rule as the outlook answers it: whether it fired for the artifact already (a new request would be refused). */
export type OutlookRule = EnabledRule & { fired: boolean };

export interface AutomationOutlook {
  digest: string;
  appId: string;
  app: string;
  projectId: string;
  project: string;
  rules: OutlookRule[];
  bindings: Array<{ name: string; mode: 'track-latest' | 'pin' }>;
}

export async function automationOutlook(
  db: Kysely<Schema>,
  artifactId: string,
): Promise<AutomationOutlook | undefined> {
  const r = await sql<AutomationOutlook>`SELECT x.digest, a.id AS "appId", a.name AS app, p.id AS "projectId",
      p.name AS project,
      (SELECT coalesce(json_agg(json_build_object('id', r.id, 'name', r.name, 'application_id', r.application_id,
          'from', s.name, 'to', t.name, 'expression', r.expression, 'tag_template', r.tag_template, 'mode', r.mode,
          'fired', EXISTS (SELECT 1 FROM automation_firings f WHERE f.key = 'rule:' || r.id || ':' || x.id))
          ORDER BY r.name), '[]'::json)
        FROM rules r JOIN environments s ON s.id = r.source_env_id JOIN environments t ON t.id = r.target_env_id
        WHERE r.project_id = p.id AND r.enabled AND (r.application_id IS NULL OR r.application_id = a.id)) AS rules,
      (SELECT coalesce(json_agg(json_build_object('name', e.name, 'mode', b.mode)), '[]'::json)
        FROM bindings b JOIN environments e ON e.id = b.environment_id WHERE b.application_id = a.id) AS bindings
    FROM artifacts x JOIN applications a ON a.id = x.application_id JOIN projects p ON p.id = a.project_id
    WHERE x.id = ${artifactId}`.execute(db);
  return r.rows[0];
}
