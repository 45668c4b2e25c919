/**
 * The declarative file `hoist apply -f` reads and `hoist export` writes: registries, and projects with their
 * applications, environments and pipeline. Parsing checks every field and reports each problem with the file, line
 * and column it is at. Secrets never live in the file: a registry names the environment variable holding them.
 */
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node, type Document } from 'yaml';
import type { Result } from '../result.ts';

export interface RegistrySpec {
  name: string;
  url: string;
  insecure?: boolean;
  username?: string;
  /** The environment variable that holds the password or token when applying. */
  passwordEnv?: string;
}

export interface EnvironmentSpec {
  name: string;
  kind: 'repository' | 'tag';
  registry: string;
  repository: string;
  tag?: string;
  protected?: boolean;
  immutableTags?: boolean;
  allowTagMove?: boolean;
}

export interface ProjectSpec {
  name: string;
  description?: string;
  applications: string[];
  environments: EnvironmentSpec[];
  /** `from -> to` edges. */
  pipeline: Array<{ from: string; to: string }>;
}

export interface ConfigSpec {
  registries: RegistrySpec[];
  projects: ProjectSpec[];
}

export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

type Checker = { problems: ConfigProblem[]; at(node: Node | null | undefined, path: string, message: string): void };

function checker(file: string, doc: Document, lc: LineCounter): Checker {
  const problems: ConfigProblem[] = [];
  return {
    problems,
    at(node, path, message) {
      const offset = node?.range?.[0] ?? doc.contents?.range?.[0] ?? 0;
      const pos = lc.linePos(offset);
      problems.push({ file, line: pos.line, col: pos.col, path, message });
    },
  };
}

const KNOWN = {
  top: ['apiVersion', 'registries', 'projects'],
  registry: ['name', 'url', 'insecure', 'username', 'passwordEnv'],
  project: ['name', 'description', 'applications', 'environments', 'pipeline'],
  environment: ['name', 'kind', 'registry', 'repository', 'tag', 'protected', 'immutableTags', 'allowTagMove'],
};

function fields(c: Checker, node: Node | null | undefined, path: string, known: string[]): Map<string, Node> {
  const out = new Map<string, Node>();
  if (!isMap(node)) {
    c.at(node, path, 'expected a mapping');
    return out;
  }
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!known.includes(key)) c.at(pair.key as Node, `${path}.${key}`, `unknown field "${key}" (known: ${known.join(', ')})`);
    else out.set(key, pair.value as Node);
  }
  return out;
}

function str(c: Checker, f: Map<string, Node>, key: string, path: string, parent: Node | null | undefined, required: boolean): string | undefined {
  const n = f.get(key);
  if (n === undefined || n === null) {
    if (required) c.at(parent, `${path}.${key}`, `"${key}" is required`);
    return undefined;
  }
  if (!isScalar(n) || typeof n.value !== 'string' || n.value === '') {
    c.at(n, `${path}.${key}`, `"${key}" must be a non-empty string`);
    return undefined;
  }
  return n.value;
}

function bool(c: Checker, f: Map<string, Node>, key: string, path: string): boolean | undefined {
  const n = f.get(key);
  if (n === undefined) return undefined;
  if (!isScalar(n) || typeof n.value !== 'boolean') {
    c.at(n, `${path}.${key}`, `"${key}" must be true or false`);
    return undefined;
  }
  return n.value;
}

function list(c: Checker, n: Node | undefined, path: string): Node[] {
  if (n === undefined || n === null) return [];
  if (!isSeq(n)) {
    c.at(n, path, 'expected a list');
    return [];
  }
  return n.items as Node[];
}

export function parseConfig(text: string, file: string): Result<ConfigSpec> & { problems?: ConfigProblem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const c = checker(file, doc, lc);
  for (const e of doc.errors) {
    const pos = lc.linePos(e.pos[0]);
    c.problems.push({ file, line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0] ?? e.message });
  }
  const spec: ConfigSpec = { registries: [], projects: [] };
  if (doc.errors.length === 0) {
    const top = fields(c, doc.contents as Node, '', KNOWN.top);
    const version = top.get('apiVersion');
    if (version !== undefined && (!isScalar(version) || version.value !== 'hoist/v1')) c.at(version, 'apiVersion', 'apiVersion must be hoist/v1');
    list(c, top.get('registries'), 'registries').forEach((n, i) => {
      const p = `registries[${i}]`;
      const f = fields(c, n, p, KNOWN.registry);
      const r: RegistrySpec = { name: str(c, f, 'name', p, n, true) ?? '', url: str(c, f, 'url', p, n, true) ?? '' };
      const insecure = bool(c, f, 'insecure', p);
      if (insecure !== undefined) r.insecure = insecure;
      const username = str(c, f, 'username', p, n, false);
      if (username !== undefined) r.username = username;
      const passwordEnv = str(c, f, 'passwordEnv', p, n, false);
      if (passwordEnv !== undefined) r.passwordEnv = passwordEnv;
      spec.registries.push(r);
    });
    list(c, top.get('projects'), 'projects').forEach((n, i) => {
      const p = `projects[${i}]`;
      const f = fields(c, n, p, KNOWN.project);
      const project: ProjectSpec = { name: str(c, f, 'name', p, n, true) ?? '', applications: [], environments: [], pipeline: [] };
      const description = str(c, f, 'description', p, n, false);
      if (description !== undefined) project.description = description;
      list(c, f.get('applications'), `${p}.applications`).forEach((a, j) => {
        if (isScalar(a) && typeof a.value === 'string') project.applications.push(a.value);
        else c.at(a, `${p}.applications[${j}]`, 'an application is a name');
      });
      list(c, f.get('environments'), `${p}.environments`).forEach((e, j) => {
        const ep = `${p}.environments[${j}]`;
        const ef = fields(c, e, ep, KNOWN.environment);
        const kind = str(c, ef, 'kind', ep, e, true);
        if (kind !== undefined && kind !== 'repository' && kind !== 'tag') c.at(ef.get('kind'), `${ep}.kind`, 'kind must be repository or tag');
        const env: EnvironmentSpec = { name: str(c, ef, 'name', ep, e, true) ?? '', kind: kind === 'tag' ? 'tag' : 'repository', registry: str(c, ef, 'registry', ep, e, true) ?? '', repository: str(c, ef, 'repository', ep, e, true) ?? '' };
        const tag = str(c, ef, 'tag', ep, e, false);
        if (tag !== undefined) env.tag = tag;
        for (const k of ['protected', 'immutableTags', 'allowTagMove'] as const) {
          const v = bool(c, ef, k, ep);
          if (v !== undefined) env[k] = v;
        }
        project.environments.push(env);
      });
      const names = new Set(project.environments.map((e) => e.name));
      list(c, f.get('pipeline'), `${p}.pipeline`).forEach((edge, j) => {
        const m = isScalar(edge) && typeof edge.value === 'string' ? /^\s*([a-z0-9-]+)\s*->\s*([a-z0-9-]+)\s*$/.exec(edge.value) : null;
        if (!m) return c.at(edge, `${p}.pipeline[${j}]`, 'an edge is written "from -> to"');
        for (const end of [m[1], m[2]]) if (!names.has(end as string)) c.at(edge, `${p}.pipeline[${j}]`, `no environment "${end}" in project "${project.name}"`);
        project.pipeline.push({ from: m[1] as string, to: m[2] as string });
      });
      spec.projects.push(project);
    });
  }
  if (c.problems.length > 0) {
    return { ok: false, error: c.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'), problems: c.problems };
  }
  return { ok: true, value: spec };
}
