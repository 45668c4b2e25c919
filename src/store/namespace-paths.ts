/**
 * Repository namespaces, pure: a grant is a registry plus a path prefix (`shop` or `shop/`, stored without the
 * slash); a repository is under it when it is the prefix or continues it by whole path components (`shop/web`, not
 * `shopping/web`). Two grants overlap when one is under the other. A repository template is under a prefix when every
 * expansion is, whatever the application: its fixed part (the components before the first placeholder) is under
 * the prefix. It lives next to the store because migration 0013 derives the first grants with it.
 */
import { randomUUID } from 'node:crypto';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** The prefix as stored (no trailing slash), or undefined when it is no repository path. */
export function normalizePrefix(prefix: string): string | undefined {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (trimmed.length === 0 || trimmed.length > 255) return undefined;
  return trimmed.split('/').every((c) => COMPONENT.test(c)) ? trimmed : undefined;
}

export function isUnder(repository: string, prefix: string): boolean {
  return repository === prefix || repository.startsWith(`${prefix}/`);
}

export function overlaps(a: string, b: string): boolean {
  return isUnder(a, b) || isUnder(b, a);
}

/** The components of a template before the first placeholder (`team/prod/{app}` → `team/prod`); '' when none. */
export function fixedPart(template: string): string {
  const components = template.split('/');
  const first = components.findIndex((c) => c.includes('{'));
  return (first === -1 ? components : components.slice(0, first)).join('/');
}

export function templateUnder(template: string, prefix: string): boolean {
  const fixed = fixedPart(template);
  return fixed !== '' && isUnder(fixed, prefix);
}

export interface EnvironmentLocation {
  projectId: string;
  project: string;
  environment: string;
  registryId: string;
  registry: string;
  template: string;
}

export interface DerivedGrant {
  id: string;
  projectId: string;
  registryId: string;
  prefix: string;
}

/**
 * The grants existing environments imply: each template's fixed part, per project and registry (a prefix under
 * another of the same project folds into it). A prefix that overlaps another project's is granted to neither, and a
 * template without a fixed part to nobody; the notes say what was granted and what an admin must decide.
 */
export function deriveGrants(envs: readonly EnvironmentLocation[]): { grants: DerivedGrant[]; notes: string[] } {
  const notes: string[] = [];
  const wanted = new Map<string, { env: EnvironmentLocation; prefix: string; by: string[] }>();
  for (const env of envs) {
    const prefix = fixedPart(env.template);
    const where = `${env.project}/${env.environment}`;
    if (prefix === '') {
      notes.push(
        `not granted: environment ${where} (${env.registry}/${env.template}) has no fixed prefix; ` +
          `an admin grants project "${env.project}" a namespace on ${env.registry} and changes the template`,
      );
      continue;
    }
    const key = `${env.projectId}\u0000${env.registryId}\u0000${prefix}`;
    const known = wanted.get(key);
    if (known) known.by.push(where);
    else wanted.set(key, { env, prefix, by: [where] });
  }
  // Fold a project's own nested prefixes into the shortest one.
  const candidates = [...wanted.values()].filter(
    (w) =>
      ![...wanted.values()].some(
        (o) =>
          o !== w &&
          o.env.projectId === w.env.projectId &&
          o.env.registryId === w.env.registryId &&
          o.prefix !== w.prefix &&
          isUnder(w.prefix, o.prefix),
      ),
  );
  const grants: DerivedGrant[] = [];
  for (const c of candidates) {
    const rivals = candidates.filter(
      (o) =>
        o.env.projectId !== c.env.projectId && o.env.registryId === c.env.registryId && overlaps(o.prefix, c.prefix),
    );
    if (rivals.length > 0) {
      notes.push(
        `conflict: ${c.env.registry}/${c.prefix}/ is used by project "${c.env.project}" (${c.by.join(', ')}) and by ` +
          rivals.map((r) => `project "${r.env.project}" (${r.env.registry}/${r.prefix}/)`).join(', ') +
          '; granted to neither, an admin decides (hoist project grant-namespace)',
      );
      continue;
    }
    grants.push({ id: randomUUID(), projectId: c.env.projectId, registryId: c.env.registryId, prefix: c.prefix });
    notes.push(`granted: project "${c.env.project}" owns ${c.env.registry}/${c.prefix}/ (from ${c.by.join(', ')})`);
  }
  return { grants, notes };
}
