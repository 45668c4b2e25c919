/**
 * Loads a `PromotionContext` (src/promotion/context.ts) in one query: the project and application, the project's
 * environments and pipeline edges, the policy in force per target environment for this application, who may
 * decide there, the project's webhooks, and the artifact named by digest (or by tag in the source environment) with
 * where it is and whether it is quarantined. Pass the transaction the plan will be executed in.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { PromotionWindow } from '../automation/window.ts';
import type {
  ArtifactInContext,
  DeciderFacts,
  EnvironmentFacts,
  PolicyFacts,
  PromotionContext,
} from '../promotion/context.ts';
import type { Schema } from './schema.ts';

export type ApplicationKey = { project: string; application: string } | { applicationId: string };
export type ArtifactKey = { digest: string } | { tag: string; in: string } | null;

const parsed = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/** `json_build_object` of a policy version's rules (aliases `po` policies, `v` policy_versions). */
export const POLICY_JSON = sql`json_build_object(
  'name', po.name, 'version', v.version, 'passConditions', v.pass_conditions, 'failConditions', v.fail_conditions,
  'approverCount', v.approver_count, 'allowRequestFromApprove', v.allow_requester_from_approve,
  'allowImageBuilderFromApprove', v.allow_image_builder_from_approve,
  'allowApproverFromDeploy', v.allow_approver_from_deploy, 'allowSkipStages', v.allow_skip_stages)`;

/** Promoters and owners (enabled users) of the project `p`, as a JSON array. */
export const DECIDERS_JSON = sql`(SELECT coalesce(json_agg(json_build_object(
    'username', u.username, 'role', m.role, 'environments', m.environments) ORDER BY u.username), '[]')
  FROM memberships m JOIN users u ON u.id = m.user_id
  WHERE m.project_id = p.id AND m.role IN ('promoter', 'owner') AND NOT u.disabled)`;

/** The project `p`'s webhooks (id and the events they want), as a JSON array. */
export const WEBHOOKS_JSON = sql`(SELECT coalesce(json_agg(json_build_object('id', w.id, 'events', w.events)), '[]')
  FROM webhooks w WHERE w.project_id = p.id)`;

/** The project `p`'s environments, ordered by position, as a JSON array. */
export const ENVIRONMENTS_JSON = sql`(SELECT coalesce(json_agg(json_build_object(
    'id', e.id, 'name', e.name, 'position', e.position, 'protected', e.protected, 'soakSeconds', e.soak_seconds,
    'windows', e.windows) ORDER BY e.position, e.name), '[]')
  FROM environments e WHERE e.project_id = p.id)`;

interface ContextRow {
  project_id: string;
  project_name: string;
  app_id: string;
  app_name: string;
  environments: unknown;
  edges: unknown;
  policies: unknown;
  deciders: unknown;
  webhooks: unknown;
  artifact: unknown;
}

interface ArtifactJson {
  id: string;
  digest: string;
  repository: string;
  tag: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  created: string | null;
  platforms: string[];
  referrers: ArtifactInContext['referrers'];
  scan: ArtifactInContext['scan'];
  sbom: ArtifactInContext['sbom'];
  trust: ArtifactInContext['trust'];
  build: ArtifactInContext['build'];
  locations: Array<{ environment: string; tag: string | null; since: string }>;
  tags: string[] | string;
  quarantine: { reason: string; by_user: string; at: string } | null;
}

export function environmentFacts(rows: unknown): EnvironmentFacts[] {
  return parsed<Array<Omit<EnvironmentFacts, 'windows'> & { windows: PromotionWindow[] | null }>>(rows).map((e) => ({
    ...e,
    windows: parsed<PromotionWindow[] | null>(e.windows) ?? [],
  }));
}

export function deciderFacts(rows: unknown): DeciderFacts[] {
  return parsed<DeciderFacts[]>(rows).map((d) => ({ ...d, environments: parsed<string[] | null>(d.environments) }));
}

export function policyFacts(p: unknown): PolicyFacts {
  const v = parsed<PolicyFacts>(p);
  return { ...v, passConditions: parsed(v.passConditions), failConditions: parsed(v.failConditions) };
}

export function artifactFacts(a: unknown): ArtifactInContext | null {
  const x = parsed<ArtifactJson | null>(a);
  if (!x) return null;
  return {
    id: x.id,
    digest: x.digest,
    repository: x.repository,
    tag: x.tag,
    labels: parsed(x.labels),
    annotations: parsed(x.annotations),
    created: x.created === null ? null : new Date(x.created).toISOString(),
    platforms: parsed(x.platforms),
    referrers: parsed(x.referrers),
    scan: parsed(x.scan),
    sbom: parsed(x.sbom),
    trust: parsed(x.trust) ?? null,
    build: parsed(x.build),
    locations: x.locations.map((l) => ({ environment: l.environment, tag: l.tag, since: new Date(l.since) })),
    tags: parsed(x.tags),
    quarantine: x.quarantine
      ? { reason: x.quarantine.reason, by: x.quarantine.by_user, at: new Date(x.quarantine.at) }
      : null,
  };
}

/** The artifact `x` as JSON with its locations and quarantine (the row must be aliased `x`). */
export const ARTIFACT_JSON = sql`json_build_object(
  'id', x.id, 'digest', x.digest, 'repository', x.repository, 'tag', x.tag, 'labels', x.labels,
  'annotations', x.annotations, 'created', x.created, 'platforms', x.platforms, 'referrers', x.referrers,
  'scan', x.scan, 'sbom', x.sbom, 'trust', x.trust, 'build', x.build,
  'locations', (SELECT coalesce(json_agg(json_build_object('environment', le.name, 'tag', l.tag, 'since', l.since)
      ORDER BY le.position), '[]')
    FROM artifact_locations l JOIN environments le ON le.id = l.environment_id WHERE l.artifact_id = x.id),
  'tags', (SELECT coalesce(json_agg(t.tag ORDER BY t.first_seen, t.tag), '[]') FROM artifact_tags t
    WHERE t.artifact_id = x.id),
  'quarantine', (SELECT json_build_object('reason', q.reason, 'by_user', q.by_user, 'at', q.at)
    FROM quarantine q WHERE q.digest = x.digest))`;

function artifactFilter(key: ArtifactKey): RawBuilder<unknown> {
  if (key === null) return sql`false`;
  if ('digest' in key) return sql`x.digest = ${key.digest}`;
  return sql`EXISTS (SELECT 1 FROM artifact_locations l JOIN environments le ON le.id = l.environment_id
      WHERE l.artifact_id = x.id AND le.name = ${key.in} AND (l.tag = ${key.tag} OR x.tag = ${key.tag}))`;
}

/** The context of promotions of one application, or undefined when the project or application does not exist. */
export async function loadPromotionContext(
  db: Kysely<Schema>,
  app: ApplicationKey,
  artifact: ArtifactKey,
): Promise<PromotionContext | undefined> {
  const where =
    'applicationId' in app
      ? sql`a.id = ${app.applicationId}`
      : sql`p.name = ${app.project} AND a.name = ${app.application}`;
  const { rows } = await sql<ContextRow>`
    SELECT p.id AS project_id, p.name AS project_name, a.id AS app_id, a.name AS app_name,
      ${ENVIRONMENTS_JSON} AS environments,
      (SELECT coalesce(json_agg(json_build_object('from', f.name, 'to', t.name)), '[]')
        FROM pipeline_edges pe JOIN environments f ON f.id = pe.from_env_id JOIN environments t ON t.id = pe.to_env_id
        WHERE pe.project_id = p.id) AS edges,
      (SELECT coalesce(json_agg(json_build_object('environment', be.name, 'policy', ${POLICY_JSON})), '[]')
        FROM policy_bindings b JOIN policies po ON po.id = b.policy_id
        JOIN policy_versions v ON v.policy_id = po.id AND v.version = po.current_version
        JOIN environments be ON be.id = b.environment_id
        WHERE b.application_id = a.id) AS policies,
      ${DECIDERS_JSON} AS deciders,
      ${WEBHOOKS_JSON} AS webhooks,
      (SELECT ${ARTIFACT_JSON} FROM artifacts x WHERE x.application_id = a.id AND ${artifactFilter(artifact)}
        ORDER BY x.registered_at DESC LIMIT 1) AS artifact
    FROM applications a JOIN projects p ON p.id = a.project_id
    WHERE ${where}`.execute(db);
  const r = rows[0];
  if (!r) return undefined;
  return {
    project: { id: r.project_id, name: r.project_name },
    application: { id: r.app_id, name: r.app_name },
    environments: environmentFacts(r.environments),
    edges: parsed(r.edges),
    policies: Object.fromEntries(
      parsed<Array<{ environment: string; policy: unknown }>>(r.policies).map((p) => [
        p.environment,
        policyFacts(p.policy),
      ]),
    ),
    artifact: artifactFacts(r.artifact),
    deciders: deciderFacts(r.deciders),
    webhooks: parsed<Array<{ id: string; events: unknown }>>(r.webhooks).map((w) => ({
      id: w.id,
      events: parsed<string[] | null>(w.events),
    })),
  };
}
