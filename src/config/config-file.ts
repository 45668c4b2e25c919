/**
 * The declarative file `hoist apply -f` reads and `hoist export` writes: registries, watched repositories, and
 * projects with their applications, environments (with soak time and promotion windows), pipeline, auto-promotion
 * rules and bindings. Parsing checks every field and reports each problem with the file, line
 * and column it is at. Secrets never live in the file: a registry names the environment variable holding them.
 */
import { isMap, isSeq, isScalar, type LineCounter, type Node, type Document } from 'yaml';
import type { Result } from '../result.ts';
import { parseYamlDocument } from './yaml-input.ts';
import { parseCriterionFlag } from '../automation/criteria.ts';
import { parseDuration } from '../automation/duration.ts';
import { validateTagTemplate } from '../automation/tag-template.ts';
import { parseWindowSpec } from '../automation/window.ts';
import { InvalidInput } from '../errors.ts';
import { isSha256Digest, SHA256_DIGEST_HINT } from '../oci/digest.ts';
import { checkEnvironment, isEnvironmentKind } from '../service/environment-shape.ts';
import { NAME, NAME_HINT } from '../service/names.ts';
import { parsePublicKey } from '../trust/keys.ts';
import { identityOf, identityProblem, parseTrustedRoot, type SigstoreIdentity } from '../trust/sigstore.ts';

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
  /** Seconds (the file says `30m`, `1h`, …). */
  soakSeconds?: number;
  /** Window specs, e.g. "mon-fri 09:00-17:00 Europe/Berlin". */
  windows?: string[];
  /** GitOps write-back: where promoted digests are committed. */
  gitTarget?: GitTargetSpec;
}

/** An environment's Git target; the token or key is named by an environment variable, never written in the file. */
export interface GitTargetSpec {
  url: string;
  branch: string;
  path: string;
  edit: 'kustomize' | 'helm' | 'manifests';
  key?: string;
  image?: string;
  newName?: string;
  mode?: 'push' | 'branch';
  username?: string;
  /** The environment variable that holds the token or SSH private key when applying. */
  secretEnv?: string;
}

export interface RuleSpec {
  name: string;
  application?: string;
  from: string;
  to: string;
  /** Criteria in the CLI's flag syntax: "tag startsWith v", "critical <= 0", … */
  criteria: string[];
  cel?: string;
  tagTemplate?: string;
  mode?: 'promote' | 'request';
}

export interface BindingSpec {
  application: string;
  environment: string;
  /** `track-latest`, or a digest to pin. */
  mode: 'track-latest' | 'pin';
  pin?: string;
}

export interface WatchSpec {
  /** REGISTRY/REPOSITORY */
  repository: string;
  intervalSeconds?: number;
}

/**
 * A public key the project trusts to sign its images (the PEM itself: a public key is no secret), or a Sigstore
 * identity with the trusted_root.json its certificates must chain to (the JSON text itself).
 */
export interface TrustRootSpec {
  name: string;
  publicKey?: string;
  sigstore?: SigstoreIdentity & { trustedRoot: string };
}

/** A repository namespace the project owns (granted by an admin; its environments must lie under one). */
export interface NamespaceSpec {
  registry: string;
  /** e.g. `shop/` */
  prefix: string;
}

export interface ProjectSpec {
  name: string;
  description?: string;
  namespaces?: NamespaceSpec[];
  applications: string[];
  environments: EnvironmentSpec[];
  /** `from -> to` edges. */
  pipeline: Array<{ from: string; to: string }>;
  rules: RuleSpec[];
  bindings: BindingSpec[];
  /** Absent: the project's trust roots are left as they are; a list: exactly these. */
  trustRoots?: TrustRootSpec[];
}

export interface ConfigSpec {
  registries: RegistrySpec[];
  projects: ProjectSpec[];
  watches: WatchSpec[];
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
  top: ['apiVersion', 'registries', 'projects', 'watches'],
  registry: ['name', 'url', 'insecure', 'username', 'passwordEnv'],
  project: [
    'name',
    'description',
    'namespaces',
    'applications',
    'environments',
    'pipeline',
    'rules',
    'bindings',
    'trustRoots',
  ],
  trustRoot: ['name', 'publicKey', 'sigstore'],
  sigstore: ['issuer', 'issuerRegex', 'subject', 'subjectRegex', 'trustedRoot'],
  namespace: ['registry', 'prefix'],
  environment: [
    'name',
    'kind',
    'registry',
    'repository',
    'tag',
    'protected',
    'immutableTags',
    'allowTagMove',
    'soak',
    'windows',
    'gitTarget',
  ],
  gitTarget: ['url', 'branch', 'path', 'edit', 'key', 'image', 'newName', 'mode', 'username', 'secretEnv'],
  rule: ['name', 'application', 'from', 'to', 'criteria', 'cel', 'tagTemplate', 'mode'],
  binding: ['application', 'environment', 'trackLatest', 'pin'],
  watch: ['repository', 'interval'],
};

/** Runs a check that throws InvalidInput, reporting its message at the node instead. */
function checked<T>(c: Checker, node: Node | null | undefined, path: string, check: () => T): T | undefined {
  try {
    return check();
  } catch (e) {
    if (!(e instanceof InvalidInput)) throw e;
    c.at(node, path, e.message);
    return undefined;
  }
}

function strings(c: Checker, n: Node | undefined, path: string): Array<{ value: string; node: Node }> {
  return list(c, n, path).flatMap((item, i) => {
    if (isScalar(item) && typeof item.value === 'string') return [{ value: item.value, node: item }];
    c.at(item, `${path}[${i}]`, 'expected a string');
    return [];
  });
}

function fields(c: Checker, node: Node | null | undefined, path: string, known: string[]): Map<string, Node> {
  const out = new Map<string, Node>();
  if (!isMap(node)) {
    c.at(node, path, 'expected a mapping');
    return out;
  }
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!known.includes(key))
      c.at(pair.key as Node, `${path}.${key}`, `unknown field "${key}" (known: ${known.join(', ')})`);
    else out.set(key, pair.value as Node);
  }
  return out;
}

function str(
  c: Checker,
  f: Map<string, Node>,
  key: string,
  path: string,
  parent: Node | null | undefined,
  required: boolean,
): string | undefined {
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

const GIT_EDITS = ['kustomize', 'helm', 'manifests'] as const;
const GIT_MODES = ['push', 'branch'] as const;

function parseGitTarget(c: Checker, n: Node | undefined, path: string): GitTargetSpec | undefined {
  const f = fields(c, n, path, KNOWN.gitTarget);
  const edit = str(c, f, 'edit', path, n, true);
  const mode = str(c, f, 'mode', path, n, false);
  const spec = {
    url: str(c, f, 'url', path, n, true),
    branch: str(c, f, 'branch', path, n, true),
    path: str(c, f, 'path', path, n, true),
    edit: GIT_EDITS.find((e) => e === edit),
  };
  if (edit !== undefined && !spec.edit)
    c.at(f.get('edit'), `${path}.edit`, 'edit must be kustomize, helm or manifests');
  if (mode !== undefined && !GIT_MODES.some((m) => m === mode))
    c.at(f.get('mode'), `${path}.mode`, 'mode must be push or branch');
  if (spec.url === undefined || spec.branch === undefined || spec.path === undefined || spec.edit === undefined)
    return undefined;
  const out: GitTargetSpec = { url: spec.url, branch: spec.branch, path: spec.path, edit: spec.edit };
  for (const k of ['key', 'image', 'newName', 'username', 'secretEnv'] as const) {
    const v = str(c, f, k, path, n, false);
    if (v !== undefined) out[k] = v;
  }
  if (mode === 'push' || mode === 'branch') out.mode = mode;
  return out;
}

export function parseConfig(text: string, file: string): Result<ConfigSpec> & { problems?: ConfigProblem[] } {
  // Within the size and alias limits (yaml-input.ts); the checker walks the nodes and never expands an alias.
  const parsed = parseYamlDocument(text);
  if (!parsed.ok) {
    const { line, col, message } = parsed.problem;
    const problem = { file, line, col, path: '', message };
    return { ok: false, error: `${file}:${problem.line}:${problem.col}: ${problem.message}`, problems: [problem] };
  }
  const doc = parsed.value;
  const c = checker(file, doc, parsed.lineCounter);
  const spec: ConfigSpec = { registries: [], projects: [], watches: [] };
  const top = fields(c, doc.contents as Node, '', KNOWN.top);
  const version = top.get('apiVersion');
  if (version !== undefined && (!isScalar(version) || version.value !== 'hoist/v1'))
    c.at(version, 'apiVersion', 'apiVersion must be hoist/v1');
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
    const project: ProjectSpec = {
      name: str(c, f, 'name', p, n, true) ?? '',
      applications: [],
      environments: [],
      pipeline: [],
      rules: [],
      bindings: [],
    };
    const description = str(c, f, 'description', p, n, false);
    if (description !== undefined) project.description = description;
    list(c, f.get('namespaces'), `${p}.namespaces`).forEach((ns, j) => {
      const np = `${p}.namespaces[${j}]`;
      const nf = fields(c, ns, np, KNOWN.namespace);
      const registry = str(c, nf, 'registry', np, ns, true);
      const prefix = str(c, nf, 'prefix', np, ns, true);
      if (registry !== undefined && prefix !== undefined) (project.namespaces ??= []).push({ registry, prefix });
    });
    list(c, f.get('applications'), `${p}.applications`).forEach((a, j) => {
      if (isScalar(a) && typeof a.value === 'string') project.applications.push(a.value);
      else c.at(a, `${p}.applications[${j}]`, 'an application is a name');
    });
    list(c, f.get('environments'), `${p}.environments`).forEach((e, j) => {
      const ep = `${p}.environments[${j}]`;
      const ef = fields(c, e, ep, KNOWN.environment);
      const kind = str(c, ef, 'kind', ep, e, true);
      if (kind !== undefined && !isEnvironmentKind(kind))
        c.at(ef.get('kind'), `${ep}.kind`, 'kind must be repository or tag');
      const env: EnvironmentSpec = {
        name: str(c, ef, 'name', ep, e, true) ?? '',
        kind: kind === 'tag' ? 'tag' : 'repository',
        registry: str(c, ef, 'registry', ep, e, true) ?? '',
        repository: str(c, ef, 'repository', ep, e, true) ?? '',
      };
      const tag = str(c, ef, 'tag', ep, e, false);
      if (tag !== undefined) env.tag = tag;
      for (const k of ['protected', 'immutableTags', 'allowTagMove'] as const) {
        const v = bool(c, ef, k, ep);
        if (v !== undefined) env[k] = v;
      }
      const soakNode = ef.get('soak');
      if (soakNode !== undefined) {
        const text = isScalar(soakNode) ? String(soakNode.value) : '';
        const seconds = checked(c, soakNode, `${ep}.soak`, () => parseDuration(text, 'soak'));
        if (seconds !== undefined) env.soakSeconds = seconds;
      }
      if (ef.has('windows')) {
        env.windows = strings(c, ef.get('windows'), `${ep}.windows`)
          .filter(
            (w, k) => checked(c, w.node, `${ep}.windows[${k}]`, () => parseWindowSpec(w.value, 'window')) !== undefined,
          )
          .map((w) => w.value);
      }
      if (ef.has('gitTarget')) {
        const gitTarget = parseGitTarget(c, ef.get('gitTarget'), `${ep}.gitTarget`);
        if (gitTarget) env.gitTarget = gitTarget;
      }
      // The same checks the server makes (windows were checked above, one by one).
      if (kind !== undefined && isEnvironmentKind(kind) && env.name !== '' && env.repository !== '')
        checked(c, e, ep, () => checkEnvironment({ ...env, windows: undefined }));
      project.environments.push(env);
    });
    const names = new Set(project.environments.map((e) => e.name));
    list(c, f.get('pipeline'), `${p}.pipeline`).forEach((edge, j) => {
      const m =
        isScalar(edge) && typeof edge.value === 'string'
          ? /^\s*([a-z0-9-]+)\s*->\s*([a-z0-9-]+)\s*$/.exec(edge.value)
          : null;
      if (!m) return c.at(edge, `${p}.pipeline[${j}]`, 'an edge is written "from -> to"');
      for (const end of [m[1], m[2]])
        if (!names.has(end as string))
          c.at(edge, `${p}.pipeline[${j}]`, `no environment "${end}" in project "${project.name}"`);
      project.pipeline.push({ from: m[1] as string, to: m[2] as string });
    });
    list(c, f.get('rules'), `${p}.rules`).forEach((r, j) => {
      const rp = `${p}.rules[${j}]`;
      const rf = fields(c, r, rp, KNOWN.rule);
      const rule: RuleSpec = {
        name: str(c, rf, 'name', rp, r, true) ?? '',
        from: str(c, rf, 'from', rp, r, true) ?? '',
        to: str(c, rf, 'to', rp, r, true) ?? '',
        criteria: [],
      };
      for (const end of ['from', 'to'] as const)
        if (rule[end] !== '' && !names.has(rule[end]))
          c.at(rf.get(end), `${rp}.${end}`, `no environment "${rule[end]}" in project "${project.name}"`);
      const application = str(c, rf, 'application', rp, r, false);
      if (application !== undefined) rule.application = application;
      strings(c, rf.get('criteria'), `${rp}.criteria`).forEach((cr, k) => {
        if (checked(c, cr.node, `${rp}.criteria[${k}]`, () => parseCriterionFlag(cr.value, 'criterion')) !== undefined)
          rule.criteria.push(cr.value);
      });
      const cel = str(c, rf, 'cel', rp, r, false);
      if (cel !== undefined) rule.cel = cel;
      const tagTemplate = str(c, rf, 'tagTemplate', rp, r, false);
      if (tagTemplate !== undefined) {
        checked(c, rf.get('tagTemplate'), `${rp}.tagTemplate`, () =>
          validateTagTemplate(tagTemplate, 'tagTemplate', { env: rule.to }),
        );
        rule.tagTemplate = tagTemplate;
      }
      const mode = str(c, rf, 'mode', rp, r, false);
      if (mode !== undefined && mode !== 'promote' && mode !== 'request')
        c.at(rf.get('mode'), `${rp}.mode`, 'mode must be promote or request');
      else if (mode !== undefined) rule.mode = mode;
      project.rules.push(rule);
    });
    list(c, f.get('bindings'), `${p}.bindings`).forEach((b, j) => {
      const bp = `${p}.bindings[${j}]`;
      const bf = fields(c, b, bp, KNOWN.binding);
      const binding: BindingSpec = {
        application: str(c, bf, 'application', bp, b, true) ?? '',
        environment: str(c, bf, 'environment', bp, b, true) ?? '',
        mode: 'track-latest',
      };
      const track = bool(c, bf, 'trackLatest', bp);
      const pin = str(c, bf, 'pin', bp, b, false);
      if ((track === true) === (pin !== undefined))
        c.at(b, bp, 'a binding has either trackLatest: true or pin: sha256:…');
      if (pin !== undefined) {
        if (!isSha256Digest(pin))
          c.at(bf.get('pin'), `${bp}.pin`, `"${pin}" is not a digest; use ${SHA256_DIGEST_HINT}`);
        binding.mode = 'pin';
        binding.pin = pin;
      }
      project.bindings.push(binding);
    });
    if (f.has('trustRoots')) project.trustRoots = [];
    list(c, f.get('trustRoots'), `${p}.trustRoots`).forEach((t, j) => {
      const tp = `${p}.trustRoots[${j}]`;
      const tf = fields(c, t, tp, KNOWN.trustRoot);
      const name = str(c, tf, 'name', tp, t, true);
      if (name !== undefined && !NAME.test(name)) c.at(tf.get('name'), `${tp}.name`, `"${name}": ${NAME_HINT}`);
      if (tf.has('publicKey') === tf.has('sigstore')) {
        c.at(t, tp, 'a trust root has either publicKey or sigstore (issuer, subject, trustedRoot)');
        return;
      }
      if (tf.has('sigstore')) {
        const sp = `${tp}.sigstore`;
        const sf = fields(c, tf.get('sigstore'), sp, KNOWN.sigstore);
        const identity = identityOf({
          issuer: str(c, sf, 'issuer', sp, t, false),
          issuerRegex: str(c, sf, 'issuerRegex', sp, t, false),
          subject: str(c, sf, 'subject', sp, t, false),
          subjectRegex: str(c, sf, 'subjectRegex', sp, t, false),
        });
        const trustedRoot = str(c, sf, 'trustedRoot', sp, tf.get('sigstore'), true);
        const problem = identityProblem(identity);
        if (problem) c.at(sf.get(problem.field) ?? tf.get('sigstore'), `${sp}.${problem.field}`, problem.error);
        const root = trustedRoot === undefined ? undefined : parseTrustedRoot(trustedRoot);
        if (root && !root.ok) c.at(sf.get('trustedRoot'), `${sp}.trustedRoot`, root.error);
        if (name !== undefined && trustedRoot !== undefined)
          project.trustRoots?.push({ name, sigstore: { ...identity, trustedRoot } });
        return;
      }
      const publicKey = str(c, tf, 'publicKey', tp, t, true);
      const key = publicKey === undefined ? undefined : parsePublicKey(publicKey);
      if (key && !key.ok) c.at(tf.get('publicKey'), `${tp}.publicKey`, key.error);
      if (name !== undefined && publicKey !== undefined) project.trustRoots?.push({ name, publicKey });
    });
    spec.projects.push(project);
  });
  if (doc.errors.length === 0) {
    const top = (doc.contents && isMap(doc.contents) ? doc.contents : undefined) as Node | undefined;
    const watches = top && isMap(top) ? (top.get('watches', true) as Node | undefined) : undefined;
    list(c, watches, 'watches').forEach((w, i) => {
      const wp = `watches[${i}]`;
      const wf = fields(c, w, wp, KNOWN.watch);
      const watch: WatchSpec = { repository: str(c, wf, 'repository', wp, w, true) ?? '' };
      const interval = wf.get('interval');
      if (interval !== undefined) {
        const seconds = checked(c, interval, `${wp}.interval`, () =>
          parseDuration(isScalar(interval) ? String(interval.value) : '', 'interval'),
        );
        if (seconds !== undefined) watch.intervalSeconds = seconds;
      }
      spec.watches.push(watch);
    });
  }
  if (c.problems.length > 0) {
    return {
      ok: false,
      error: c.problems
        .map((p) => `${p.file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`)
        .join('\n'),
      problems: c.problems,
    };
  }
  return { ok: true, value: spec };
}
