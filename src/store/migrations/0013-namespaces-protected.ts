/**
 * Projects own repository namespaces (an admin grants a project a registry and path prefixes, as Harbor projects own
 * theirs), and policy bindings no longer vanish as a side effect: deleting a policy, application or environment that
 * a binding depends on is refused (ON DELETE RESTRICT) instead of silently removing an admin's gate.
 *
 * Existing data: each environment's repository template names a fixed prefix (the path components before `{app}`);
 * those become grants where exactly one project claims the prefix on that registry. Prefixes claimed by several
 * projects, and templates without a fixed prefix, are granted to nobody: the report (table `migration_notes`, printed
 * by `hoist db migrate` and logged by `hoist serve`) names each, and an admin grants them by hand.
 */
import { sql, type Kysely } from 'kysely';
import { deriveGrants } from '../namespace-paths.ts';

const MIGRATION = '0013-namespaces-protected';

const STATEMENTS = [
  `CREATE TABLE namespace_grants (
    id text PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    registry_id text NOT NULL REFERENCES registries(id) ON DELETE CASCADE,
    prefix text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (registry_id, prefix)
  )`,
  `CREATE INDEX namespace_grants_project ON namespace_grants (project_id)`,
  `CREATE TABLE migration_notes (
    seq bigserial PRIMARY KEY,
    migration text NOT NULL,
    line text NOT NULL,
    at timestamptz NOT NULL
  )`,
  `ALTER TABLE policy_bindings DROP CONSTRAINT policy_bindings_policy_id_fkey`,
  `ALTER TABLE policy_bindings ADD CONSTRAINT policy_bindings_policy_id_fkey
    FOREIGN KEY (policy_id) REFERENCES policies(id) ON DELETE RESTRICT`,
  `ALTER TABLE policy_bindings DROP CONSTRAINT policy_bindings_application_id_fkey`,
  `ALTER TABLE policy_bindings ADD CONSTRAINT policy_bindings_application_id_fkey
    FOREIGN KEY (application_id) REFERENCES applications(id) ON DELETE RESTRICT`,
  `ALTER TABLE policy_bindings DROP CONSTRAINT policy_bindings_environment_id_fkey`,
  `ALTER TABLE policy_bindings ADD CONSTRAINT policy_bindings_environment_id_fkey
    FOREIGN KEY (environment_id) REFERENCES environments(id) ON DELETE RESTRICT`,
];

interface EnvironmentRow {
  project_id: string;
  project: string;
  environment: string;
  registry_id: string;
  registry: string;
  repository_template: string;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
  const envs = await sql<EnvironmentRow>`
    SELECT e.project_id, p.name AS project, e.name AS environment, e.registry_id, r.name AS registry,
           e.repository_template
    FROM environments e JOIN projects p ON p.id = e.project_id JOIN registries r ON r.id = e.registry_id
    ORDER BY p.name, e.position, e.name`.execute(db);
  const { grants, notes } = deriveGrants(
    envs.rows.map((r) => ({
      projectId: r.project_id,
      project: r.project,
      environment: r.environment,
      registryId: r.registry_id,
      registry: r.registry,
      template: r.repository_template,
    })),
  );
  const now = new Date();
  for (const g of grants) {
    await sql`INSERT INTO namespace_grants (id, project_id, registry_id, prefix, created_by, created_at)
      VALUES (${g.id}, ${g.projectId}, ${g.registryId}, ${g.prefix}, ${`migration ${MIGRATION}`}, ${now})`.execute(db);
  }
  for (const line of notes)
    await sql`INSERT INTO migration_notes (migration, line, at) VALUES (${MIGRATION}, ${line}, ${now})`.execute(db);
}
