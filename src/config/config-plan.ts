/**
 * What `hoist apply` would change, computed purely from the file and the server's current state: one step per
 * object (create, update or delete, with the fields that differ). Objects inside a project the file declares are
 * the file's: an environment or application missing from it is deleted. Registries and projects the file does not
 * mention are left alone unless --prune. A registry's secret is set when it has none; it is not compared.
 */
import type { EnvironmentView, Edge } from '../service/environments.service.ts';
import type { RegistryView } from '../service/registries.service.ts';
import type { ConfigSpec, EnvironmentSpec, RegistrySpec } from './config-file.ts';
import { parseRegistryUrl } from '../service/registries.service.ts';

export interface ProjectState {
  name: string;
  description: string;
  applications: string[];
  environments: EnvironmentView[];
  pipeline: Edge[];
}

export interface CurrentState {
  registries: RegistryView[];
  projects: ProjectState[];
}

export type StepKind = 'registry' | 'project' | 'application' | 'environment' | 'pipeline';

export interface Step {
  op: 'create' | 'update' | 'delete';
  kind: StepKind;
  /** `name`, or `project/name` inside a project. */
  name: string;
  changes?: string[];
  registry?: RegistrySpec;
  environment?: EnvironmentSpec;
  /** An environment's place in the pipeline: its index in the file. */
  position?: number;
  edges?: Edge[];
  description?: string;
}

function diff(pairs: Array<[string, unknown, unknown]>): string[] {
  return pairs.filter(([, want, have]) => want !== undefined && JSON.stringify(want) !== JSON.stringify(have)).map(([k, want, have]) => `${k}: ${JSON.stringify(have)} → ${JSON.stringify(want)}`);
}

function registryChanges(want: RegistrySpec, have: RegistryView): string[] {
  const { host, insecure } = parseRegistryUrl(want.url, want.insecure);
  const changes = diff([
    ['url', host, have.url],
    ['insecure', insecure, have.insecure],
    ['username', want.username, have.username ?? undefined],
  ]);
  if (want.passwordEnv !== undefined && !have.hasSecret) changes.push('secret: set');
  return changes;
}

function environmentChanges(want: EnvironmentSpec, have: EnvironmentView, position: number): string[] {
  return diff([
    ['kind', want.kind, have.kind],
    ['registry', want.registry, have.registry],
    ['repository', want.repository, have.repository],
    ['tag', want.kind === 'tag' ? want.tag : null, have.tag],
    ['position', position, have.position],
    ['protected', want.protected ?? false, have.protected],
    ['immutableTags', want.immutableTags ?? false, have.immutableTags],
    ['allowTagMove', want.allowTagMove ?? true, have.allowTagMove],
  ]);
}

export function planApply(desired: ConfigSpec, current: CurrentState, opts: { prune: boolean }): Step[] {
  const steps: Step[] = [];
  const registries = new Map(current.registries.map((r) => [r.name, r]));
  for (const r of desired.registries) {
    const have = registries.get(r.name);
    if (!have) steps.push({ op: 'create', kind: 'registry', name: r.name, registry: r });
    else {
      const changes = registryChanges(r, have);
      if (changes.length > 0) steps.push({ op: 'update', kind: 'registry', name: r.name, changes, registry: r });
    }
  }
  const projects = new Map(current.projects.map((p) => [p.name, p]));
  const deletions: Step[] = [];
  for (const p of desired.projects) {
    const have = projects.get(p.name);
    if (!have) steps.push({ op: 'create', kind: 'project', name: p.name, description: p.description ?? '' });
    else if (p.description !== undefined && p.description !== have.description) steps.push({ op: 'update', kind: 'project', name: p.name, description: p.description, changes: diff([['description', p.description, have.description]]) });
    const apps = new Set(have?.applications ?? []);
    for (const a of p.applications) if (!apps.has(a)) steps.push({ op: 'create', kind: 'application', name: `${p.name}/${a}` });
    for (const a of apps) if (!p.applications.includes(a)) deletions.push({ op: 'delete', kind: 'application', name: `${p.name}/${a}` });
    const envs = new Map((have?.environments ?? []).map((e) => [e.name, e]));
    p.environments.forEach((e, position) => {
      const h = envs.get(e.name);
      if (!h) steps.push({ op: 'create', kind: 'environment', name: `${p.name}/${e.name}`, environment: e, position });
      else {
        const changes = environmentChanges(e, h, position);
        if (changes.length > 0) steps.push({ op: 'update', kind: 'environment', name: `${p.name}/${e.name}`, environment: e, position, changes });
      }
    });
    for (const name of envs.keys()) if (!p.environments.some((e) => e.name === name)) deletions.push({ op: 'delete', kind: 'environment', name: `${p.name}/${name}` });
    const key = (e: Edge): string => `${e.from}->${e.to}`;
    const wantEdges = [...new Set(p.pipeline.map(key))].sort();
    const haveEdges = [...new Set((have?.pipeline ?? []).map(key))].sort();
    if (JSON.stringify(wantEdges) !== JSON.stringify(haveEdges)) {
      steps.push({ op: have ? 'update' : 'create', kind: 'pipeline', name: p.name, edges: p.pipeline, changes: [`edges: ${haveEdges.join(', ') || '(none)'} → ${wantEdges.join(', ') || '(none)'}`] });
    }
  }
  if (opts.prune) {
    for (const p of current.projects) if (!desired.projects.some((d) => d.name === p.name)) deletions.push({ op: 'delete', kind: 'project', name: p.name });
    for (const r of current.registries) if (!desired.registries.some((d) => d.name === r.name)) deletions.push({ op: 'delete', kind: 'registry', name: r.name });
  }
  // Environments go before the registries they use; applications and environments before their project.
  const order: StepKind[] = ['pipeline', 'environment', 'application', 'project', 'registry'];
  deletions.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  return [...steps, ...deletions];
}

/** The server's state as a file `hoist apply` accepts (secrets are not exported: each registry names an env var). */
export function exportState(current: CurrentState): ConfigSpec {
  return {
    registries: current.registries.map((r) => ({
      name: r.name,
      url: `${r.insecure ? 'http' : 'https'}://${r.url}`,
      ...(r.username !== null ? { username: r.username, passwordEnv: `HOIST_REGISTRY_${r.name.toUpperCase().replace(/-/g, '_')}_PASSWORD` } : {}),
    })),
    projects: current.projects.map((p) => ({
      name: p.name,
      ...(p.description ? { description: p.description } : {}),
      applications: p.applications,
      environments: p.environments.map((e) => ({
        name: e.name,
        kind: e.kind,
        registry: e.registry,
        repository: e.repository,
        ...(e.tag !== null ? { tag: e.tag } : {}),
        ...(e.protected ? { protected: true } : {}),
        ...(e.immutableTags ? { immutableTags: true } : {}),
        ...(!e.allowTagMove ? { allowTagMove: false } : {}),
      })),
      pipeline: p.pipeline,
    })),
  };
}
