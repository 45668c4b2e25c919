/**
 * What `hoist apply` would change, computed purely from the file and the server's current state: one step per
 * object (create, update or delete, with the fields that differ). Objects inside a project the file declares are
 * the file's: an environment or application missing from it is deleted. Registries and projects the file does not
 * mention are left alone unless --prune. A registry's secret is set when it has none; it is not compared.
 */
import { compileCriteria, parseCriterionFlag, type Criterion } from '../automation/criteria.ts';
import { describeWindow, parseWindowSpec } from '../automation/window.ts';
import type { BindingView } from '../service/bindings.service.ts';
import type { EnvironmentInput, EnvironmentView, Edge } from '../service/environments.service.ts';
import type { WatchView } from '../service/poller.ts';
import type { RegistryView } from '../service/registries.service.ts';
import type { RuleInput, RuleView } from '../service/rules.service.ts';
import type {
  BindingSpec,
  ConfigSpec,
  EnvironmentSpec,
  GitTargetSpec,
  NamespaceSpec,
  RegistrySpec,
  RuleSpec,
  TrustRootSpec,
  WatchSpec,
} from './config-file.ts';
import { parsePublicKey } from '../trust/keys.ts';
import { sigstoreRootFingerprint } from '../trust/sigstore.ts';
import { parseRegistryUrl } from '../service/registries.service.ts';

export interface ProjectState {
  name: string;
  description: string;
  namespaces?: Array<{ registry: string; prefix: string }>;
  applications: string[];
  environments: EnvironmentView[];
  pipeline: Edge[];
  rules: RuleView[];
  bindings: BindingView[];
  /** A key's PEM, or a Sigstore identity with its trusted_root.json text. */
  trustRoots?: Array<{ name: string; fingerprint: string } & Omit<TrustRootSpec, 'name'>>;
  /** Each environment's Git target (null: none); absent: not read, left as it is. */
  gitTargets?: Record<string, GitTargetState | null>;
}

/** An environment's Git target as the API answers it (src/service/git-targets.service.ts). */
export interface GitTargetState {
  url: string;
  branch: string;
  path: string;
  edit: string;
  key: string | null;
  image: string | null;
  newName: string | null;
  mode: string;
  username: string | null;
  hasSecret: boolean;
}

export interface CurrentState {
  registries: RegistryView[];
  projects: ProjectState[];
  watches: WatchView[];
}

export type StepKind =
  | 'registry'
  | 'project'
  | 'namespace'
  | 'application'
  | 'environment'
  | 'pipeline'
  | 'rule'
  | 'binding'
  | 'watch'
  | 'trust-root'
  | 'git-target';

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
  rule?: RuleInput;
  binding?: BindingSpec;
  watch?: WatchSpec;
  namespace?: NamespaceSpec;
  trustRoot?: TrustRootSpec;
  gitTarget?: GitTargetSpec;
  /** A watch's id, to delete it. */
  id?: string;
}

const withSlash = (prefix: string): string => (prefix.endsWith('/') ? prefix : `${prefix}/`);

/** What the API takes for an environment of the file. */
export function environmentInput(e: EnvironmentSpec, position?: number): EnvironmentInput {
  const { windows, gitTarget: _, ...rest } = e;
  return {
    ...rest,
    ...(position !== undefined ? { position } : {}),
    ...(windows !== undefined ? { windows: windows.map((w, i) => parseWindowSpec(w, `windows[${i}]`)) } : {}),
  };
}

/** What the API takes for a rule of the file (criteria in flag syntax become criterion objects). */
export function ruleInput(r: RuleSpec): RuleInput {
  return {
    name: r.name,
    from: r.from,
    to: r.to,
    application: r.application ?? null,
    criteria: r.criteria.map((c, i) => parseCriterionFlag(c, `criteria[${i}]`)),
    ...(r.cel !== undefined ? { cel: r.cel } : {}),
    tagTemplate: r.tagTemplate ?? null,
    mode: r.mode ?? 'promote',
  };
}

/** A criterion in the flag syntax the file and `--criterion` use (parseCriterionFlag reads it back). */
export function criterionFlag(c: Criterion): string {
  switch (c.field) {
    case 'tag':
      return 'values' in c ? `tag ${c.op} ${c.values.join(',')}` : `tag ${c.op} ${c.value}`;
    case 'label':
      if (c.op === 'equals') return `label ${c.name}=${c.value ?? ''}`;
      if (c.op === 'notEquals') return `label ${c.name}!=${c.value ?? ''}`;
      return c.op === 'present' || c.op === 'absent'
        ? `label ${c.name} ${c.op}`
        : `label ${c.name} ${c.op} ${c.value ?? ''}`;
    case 'vulnerabilities':
      return `${c.severity} ${c.op} ${c.value}`;
    case 'license':
      return `license ${c.op} ${c.values.join(',')}`;
    case 'component':
      return `component ${c.op} ${c.name}`;
    case 'signature':
      return 'signature present';
    case 'cel':
      return `cel ${c.expression}`;
  }
}

function ruleChanges(want: RuleSpec, have: RuleView): string[] {
  const criteria = want.criteria.map((c, i) => parseCriterionFlag(c, `criteria[${i}]`));
  if (want.cel !== undefined) criteria.push({ field: 'cel', expression: want.cel });
  return diff([
    ['from', want.from, have.from],
    ['to', want.to, have.to],
    ['application', want.application ?? null, have.application],
    ['expression', compileCriteria(criteria), have.expression],
    ['tagTemplate', want.tagTemplate ?? null, have.tagTemplate],
    ['mode', want.mode ?? 'promote', have.mode],
  ]);
}

function diff(pairs: Array<[string, unknown, unknown]>): string[] {
  return pairs
    .filter(([, want, have]) => want !== undefined && JSON.stringify(want) !== JSON.stringify(have))
    .map(([k, want, have]) => `${k}: ${JSON.stringify(have)} → ${JSON.stringify(want)}`);
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
    ['soakSeconds', want.soakSeconds ?? 0, have.soakSeconds],
    [
      'windows',
      (want.windows ?? []).map((w) => describeWindow(parseWindowSpec(w, 'windows'))),
      have.windows.map(describeWindow),
    ],
  ]);
}

const sameUrl = (url: string): string => {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
};

function gitTargetChanges(want: GitTargetSpec, have: GitTargetState): string[] {
  const changes = diff([
    ['url', sameUrl(want.url), have.url],
    ['branch', want.branch, have.branch],
    ['path', want.path, have.path],
    ['edit', want.edit, have.edit],
    ['key', want.edit === 'helm' ? (want.key ?? 'image.digest') : null, have.key],
    ['image', want.image ?? null, have.image],
    ['newName', want.newName ?? null, have.newName],
    ['mode', want.mode ?? 'push', have.mode],
    ['username', want.username ?? null, have.username],
  ]);
  if (want.secretEnv !== undefined && !have.hasSecret) changes.push('secret: set');
  return changes;
}

/** The Git target steps of a project's environments: the file's are the environments' (none listed: removed). */
function gitTargetSteps(project: string, envs: readonly EnvironmentSpec[], have: ProjectState | undefined): Step[] {
  const steps: Step[] = [];
  for (const e of envs) {
    const current = have?.gitTargets?.[e.name] ?? null;
    const name = `${project}/${e.name}`;
    if (e.gitTarget && !current) steps.push({ op: 'create', kind: 'git-target', name, gitTarget: e.gitTarget });
    else if (e.gitTarget && current) {
      const changes = gitTargetChanges(e.gitTarget, current);
      if (changes.length > 0) steps.push({ op: 'update', kind: 'git-target', name, gitTarget: e.gitTarget, changes });
    } else if (!e.gitTarget && current) steps.push({ op: 'delete', kind: 'git-target', name });
  }
  return steps;
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
    else if (p.description !== undefined && p.description !== have.description)
      steps.push({
        op: 'update',
        kind: 'project',
        name: p.name,
        description: p.description,
        changes: diff([['description', p.description, have.description]]),
      });
    // Namespaces are only ever granted here (revoking is an admin's explicit act: hoist project revoke-namespace).
    const granted = new Set((have?.namespaces ?? []).map((n) => `${n.registry} ${withSlash(n.prefix)}`));
    for (const n of p.namespaces ?? [])
      if (!granted.has(`${n.registry} ${withSlash(n.prefix)}`))
        steps.push({
          op: 'create',
          kind: 'namespace',
          name: `${p.name} ${n.registry}/${withSlash(n.prefix)}`,
          namespace: n,
        });
    const apps = new Set(have?.applications ?? []);
    for (const a of p.applications)
      if (!apps.has(a)) steps.push({ op: 'create', kind: 'application', name: `${p.name}/${a}` });
    for (const a of apps)
      if (!p.applications.includes(a)) deletions.push({ op: 'delete', kind: 'application', name: `${p.name}/${a}` });
    const envs = new Map((have?.environments ?? []).map((e) => [e.name, e]));
    p.environments.forEach((e, position) => {
      const h = envs.get(e.name);
      if (!h) steps.push({ op: 'create', kind: 'environment', name: `${p.name}/${e.name}`, environment: e, position });
      else {
        const changes = environmentChanges(e, h, position);
        if (changes.length > 0)
          steps.push({
            op: 'update',
            kind: 'environment',
            name: `${p.name}/${e.name}`,
            environment: e,
            position,
            changes,
          });
      }
    });
    steps.push(...gitTargetSteps(p.name, p.environments, have));
    for (const name of envs.keys())
      if (!p.environments.some((e) => e.name === name))
        deletions.push({ op: 'delete', kind: 'environment', name: `${p.name}/${name}` });
    const key = (e: Edge): string => `${e.from}->${e.to}`;
    const wantEdges = [...new Set(p.pipeline.map(key))].sort();
    const haveEdges = [...new Set((have?.pipeline ?? []).map(key))].sort();
    if (JSON.stringify(wantEdges) !== JSON.stringify(haveEdges)) {
      steps.push({
        op: have ? 'update' : 'create',
        kind: 'pipeline',
        name: p.name,
        edges: p.pipeline,
        changes: [`edges: ${haveEdges.join(', ') || '(none)'} → ${wantEdges.join(', ') || '(none)'}`],
      });
    }
    const rules = new Map((have?.rules ?? []).map((r) => [r.name, r]));
    for (const r of p.rules) {
      const h = rules.get(r.name);
      const changes = h ? ruleChanges(r, h) : [];
      // A rule is replaced as a whole (delete, then create) when it changed.
      if (h && changes.length > 0) steps.push({ op: 'delete', kind: 'rule', name: `${p.name}/${r.name}` });
      if (!h || changes.length > 0)
        steps.push({
          op: h ? 'update' : 'create',
          kind: 'rule',
          name: `${p.name}/${r.name}`,
          rule: ruleInput(r),
          ...(changes.length > 0 ? { changes } : {}),
        });
    }
    for (const name of rules.keys())
      if (!p.rules.some((r) => r.name === name))
        deletions.push({ op: 'delete', kind: 'rule', name: `${p.name}/${name}` });
    const bindingKey = (app: string, env: string): string => `${p.name}/${app}/${env}`;
    const bindings = new Map((have?.bindings ?? []).map((b) => [bindingKey(b.application, b.environment), b]));
    for (const b of p.bindings) {
      const h = bindings.get(bindingKey(b.application, b.environment));
      const changes = h
        ? diff([
            ['mode', b.mode, h.mode],
            ['pin', b.pin ?? null, h.pinnedDigest],
          ])
        : [];
      if (!h || changes.length > 0)
        steps.push({
          op: h ? 'update' : 'create',
          kind: 'binding',
          name: bindingKey(b.application, b.environment),
          binding: b,
          ...(changes.length > 0 ? { changes } : {}),
        });
    }
    for (const [key, b] of bindings)
      if (!p.bindings.some((x) => x.application === b.application && x.environment === b.environment))
        deletions.push({ op: 'delete', kind: 'binding', name: key });
    if (p.trustRoots !== undefined) trustRootSteps(p.name, p.trustRoots, have?.trustRoots ?? [], steps, deletions);
  }
  const watchKey = (w: { registry: string; repository: string }): string => `${w.registry}/${w.repository}`;
  for (const w of desired.watches) {
    const have = current.watches.find((x) => watchKey(x) === w.repository);
    if (!have) steps.push({ op: 'create', kind: 'watch', name: w.repository, watch: w });
    else if (w.intervalSeconds !== undefined && w.intervalSeconds !== have.intervalSeconds)
      steps.push({
        op: 'update',
        kind: 'watch',
        name: w.repository,
        watch: w,
        changes: diff([['interval', w.intervalSeconds, have.intervalSeconds]]),
      });
  }
  if (opts.prune) {
    for (const p of current.projects)
      if (!desired.projects.some((d) => d.name === p.name))
        deletions.push({ op: 'delete', kind: 'project', name: p.name });
    for (const r of current.registries)
      if (!desired.registries.some((d) => d.name === r.name))
        deletions.push({ op: 'delete', kind: 'registry', name: r.name });
    for (const w of current.watches)
      if (!desired.watches.some((d) => d.repository === watchKey(w)))
        deletions.push({ op: 'delete', kind: 'watch', name: watchKey(w), id: w.id });
  }
  // Rules and bindings go before the environments they name; environments before the registries they use;
  // applications and environments before their project; watches before their registry.
  const order: StepKind[] = [
    'trust-root',
    'rule',
    'binding',
    'watch',
    'pipeline',
    'environment',
    'application',
    'project',
    'registry',
  ];
  deletions.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  return [...steps, ...deletions];
}

/** A key's fingerprint, or a Sigstore identity's (identity and trusted root together); '' when it does not parse. */
function trustRootFingerprint(t: TrustRootSpec): string {
  if (t.sigstore) return sigstoreRootFingerprint(t.sigstore, t.sigstore.trustedRoot);
  const key = parsePublicKey(t.publicKey ?? '');
  return key.ok ? key.value.fingerprint : '';
}

/** A listed project's trust roots are the file's: a key is compared by fingerprint, one not listed is removed. */
function trustRootSteps(
  project: string,
  want: readonly TrustRootSpec[],
  have: NonNullable<ProjectState['trustRoots']>,
  steps: Step[],
  deletions: Step[],
): void {
  const current = new Map(have.map((t) => [t.name, t]));
  for (const t of want) {
    const h = current.get(t.name);
    const fingerprint = trustRootFingerprint(t);
    if (h && h.fingerprint === fingerprint) continue;
    steps.push({
      op: h ? 'update' : 'create',
      kind: 'trust-root',
      name: `${project}/${t.name}`,
      trustRoot: t,
      ...(h ? { changes: [`fingerprint: ${h.fingerprint.slice(0, 12)}… → ${fingerprint.slice(0, 12)}…`] } : {}),
    });
  }
  for (const name of current.keys())
    if (!want.some((t) => t.name === name))
      deletions.push({ op: 'delete', kind: 'trust-root', name: `${project}/${name}` });
}

/** The server's state as a file `hoist apply` accepts (secrets are not exported: each registry names an env var). */
export function exportState(current: CurrentState): ConfigSpec {
  return {
    registries: current.registries.map((r) => ({
      name: r.name,
      url: `${r.insecure ? 'http' : 'https'}://${r.url}`,
      ...(r.username !== null
        ? { username: r.username, passwordEnv: `HOIST_REGISTRY_${r.name.toUpperCase().replace(/-/g, '_')}_PASSWORD` }
        : {}),
    })),
    projects: current.projects.map((p) => ({
      name: p.name,
      ...(p.description ? { description: p.description } : {}),
      ...(p.namespaces && p.namespaces.length > 0
        ? { namespaces: p.namespaces.map((n) => ({ registry: n.registry, prefix: n.prefix })) }
        : {}),
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
        ...(e.soakSeconds > 0 ? { soakSeconds: e.soakSeconds } : {}),
        ...(e.windows.length > 0 ? { windows: e.windows.map(describeWindow) } : {}),
        ...gitTargetExport(p.name, e.name, p.gitTargets?.[e.name] ?? null),
      })),
      pipeline: p.pipeline,
      rules: p.rules.map((r) => ({
        name: r.name,
        ...(r.application !== null ? { application: r.application } : {}),
        from: r.from,
        to: r.to,
        criteria: r.criteria.map(criterionFlag),
        ...(r.tagTemplate !== null ? { tagTemplate: r.tagTemplate } : {}),
        mode: r.mode,
      })),
      bindings: p.bindings.map((b) => ({
        application: b.application,
        environment: b.environment,
        mode: b.mode,
        ...(b.pinnedDigest !== null ? { pin: b.pinnedDigest } : {}),
      })),
      ...(p.trustRoots && p.trustRoots.length > 0
        ? {
            trustRoots: p.trustRoots.map((t) =>
              t.sigstore ? { name: t.name, sigstore: t.sigstore } : { name: t.name, publicKey: t.publicKey ?? '' },
            ),
          }
        : {}),
    })),
    watches: current.watches.map((w) => ({
      repository: `${w.registry}/${w.repository}`,
      intervalSeconds: w.intervalSeconds,
    })),
  };
}

function gitTargetExport(project: string, env: string, g: GitTargetState | null): { gitTarget?: GitTargetSpec } {
  if (!g) return {};
  const edit = g.edit as GitTargetSpec['edit'];
  const secretEnv = `HOIST_GIT_${project}_${env}_SECRET`.toUpperCase().replace(/-/g, '_');
  return {
    gitTarget: {
      url: g.url,
      branch: g.branch,
      path: g.path,
      edit,
      ...(g.key !== null && !(edit === 'helm' && g.key === 'image.digest') ? { key: g.key } : {}),
      ...(g.image !== null ? { image: g.image } : {}),
      ...(g.newName !== null ? { newName: g.newName } : {}),
      ...(g.mode !== 'push' ? { mode: g.mode as 'branch' } : {}),
      ...(g.username !== null ? { username: g.username } : {}),
      ...(g.hasSecret ? { secretEnv } : {}),
    },
  };
}
