/**
 * `hoist apply -f FILE [--dry-run] [--prune]` and `hoist export`: the declarative file against the server. Apply
 * reads the server's state, plans purely (src/config/config-plan.ts), prints the plan, and unless --dry-run carries
 * it out through the API. Running it twice changes nothing the second time.
 */
import { writeFileSync } from 'node:fs';
import type { HoistClient, RuleInput } from '../../client/index.ts';
import { parseConfig, type ConfigSpec } from '../../config/config-file.ts';
import { readYamlFile } from '../../config/yaml-input.ts';
import { environmentInput, exportState, planApply, type CurrentState, type Step } from '../../config/config-plan.ts';
import { ApiError, InvalidInput } from '../../errors.ts';
import { client } from '../client-config.ts';

async function currentState(c: HoistClient): Promise<CurrentState> {
  const [registries, projects, watches] = await Promise.all([c.registries.list(), c.projects.list(), c.watches.list()]);
  return {
    registries,
    watches,
    projects: await Promise.all(
      projects.map(async (p) => {
        const [namespaces, applications, environments, pipeline, rules, bindings, trustRoots] = await Promise.all([
          c.projects.namespaces(p.name),
          c.projects.applications(p.name),
          c.environments.list(p.name),
          c.environments.pipeline(p.name),
          c.rules.list(p.name),
          c.bindings.list(p.name),
          c.trustRoots.list(p.name),
        ]);
        const gitTargets = Object.fromEntries(
          await Promise.all(environments.map(async (e) => [e.name, await gitTargetOf(c, p.name, e.name)] as const)),
        );
        // The API types a rule's criteria as unknown[]; the plan reads them as the criteria it wrote.
        const ruleViews = rules as unknown as CurrentState['projects'][number]['rules'];
        return {
          name: p.name,
          description: p.description,
          namespaces,
          applications,
          environments,
          pipeline,
          rules: ruleViews,
          bindings,
          // Sigstore identities have no public key; the apply file does not carry them yet (README, Signatures).
          trustRoots: trustRoots.map((t) => ({
            name: t.name,
            fingerprint: t.fingerprint,
            publicKey: t.publicKey ?? '',
          })),
          gitTargets,
        };
      }),
    ),
  };
}

/** An environment's Git target, or null when it has none. */
async function gitTargetOf(c: HoistClient, project: string, env: string) {
  try {
    return await c.gitTargets.get(project, env);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

function describeStep(s: Step): string {
  const sign = s.op === 'create' ? '+' : s.op === 'update' ? '~' : '-';
  return `${sign} ${s.op} ${s.kind} ${s.name}${s.changes && s.changes.length > 0 ? ` (${s.changes.join('; ')})` : ''}`;
}

async function execute(c: HoistClient, s: Step, env: NodeJS.ProcessEnv): Promise<void> {
  const [project, name] = s.name.includes('/') ? (s.name.split('/') as [string, string]) : [s.name, s.name];
  switch (s.kind) {
    case 'registry': {
      if (s.op === 'delete') return c.registries.remove(s.name);
      const r = s.registry!;
      let password: string | undefined;
      if (r.passwordEnv !== undefined && (s.op === 'create' || s.changes?.includes('secret: set'))) {
        password = env[r.passwordEnv];
        if (password === undefined)
          throw new InvalidInput(`environment variable ${r.passwordEnv} is not set`, `registry ${r.name} passwordEnv`);
      }
      await c.registries.put({
        name: r.name,
        url: r.url,
        ...(r.insecure !== undefined ? { insecure: r.insecure } : {}),
        ...(r.username !== undefined ? { username: r.username } : {}),
        ...(password !== undefined ? { password } : {}),
      });
      return;
    }
    case 'project':
      if (s.op === 'delete') return c.projects.remove(s.name);
      if (s.op === 'create') await c.projects.create(s.name, s.description);
      else await c.projects.update(s.name, s.description ?? '');
      return;
    case 'namespace':
      await c.projects.grantNamespace(s.name.split(' ')[0] ?? '', s.namespace!.registry, s.namespace!.prefix);
      return;
    case 'application':
      if (s.op === 'delete') return c.projects.removeApplication(project, name);
      await c.projects.addApplication(project, name);
      return;
    case 'environment': {
      if (s.op === 'delete') return c.environments.remove(project, name);
      await c.environments.put(project, environmentInput(s.environment!, s.position));
      return;
    }
    case 'pipeline':
      await c.environments.setPipeline(s.name, s.edges ?? []);
      return;
    case 'rule':
      if (s.op === 'delete') return c.rules.remove(project, name);
      // The plan's rule is the server's input type (criteria validated there), the client's is the API's body.
      await c.rules.create(project, s.rule! as RuleInput);
      return;
    case 'binding': {
      const [, app, env] = s.name.split('/') as [string, string, string];
      if (s.op === 'delete') return c.bindings.remove(project, app, env);
      const b = s.binding!;
      await c.bindings.set(
        project,
        app,
        env,
        b.mode === 'pin' ? { mode: 'pin', digest: b.pin ?? '' } : { mode: 'track-latest' },
      );
      return;
    }
    case 'trust-root':
      if (s.op === 'delete') return c.trustRoots.remove(project, name);
      if (s.trustRoot!.sigstore) await c.trustRoots.putSigstore(project, name, s.trustRoot!.sigstore);
      else await c.trustRoots.put(project, name, s.trustRoot!.publicKey ?? '');
      return;
    case 'git-target': {
      if (s.op === 'delete') return c.gitTargets.remove(project, name);
      const { secretEnv, ...g } = s.gitTarget!;
      let secret: string | undefined;
      if (secretEnv !== undefined && (s.op === 'create' || s.changes?.includes('secret: set'))) {
        secret = env[secretEnv];
        if (secret === undefined)
          throw new InvalidInput(`environment variable ${secretEnv} is not set`, `git target ${s.name} secretEnv`);
      }
      await c.gitTargets.put(project, name, { ...g, ...(secret !== undefined ? { secret } : {}) });
      return;
    }
    case 'watch':
      if (s.op === 'delete') return c.watches.remove(s.id ?? '');
      await c.watches.add(s.watch!.repository, s.watch!.intervalSeconds);
      return;
  }
}

export async function applyCommand(flags: { file: string; dryRun?: boolean; prune?: boolean }): Promise<void> {
  const text = readYamlFile(flags.file, '-f');
  const parsed = parseConfig(text, flags.file);
  if (!parsed.ok) throw new InvalidInput(`the file has problems:\n${parsed.error}`);
  const c = client();
  const steps = planApply(parsed.value, await currentState(c), { prune: flags.prune ?? false });
  if (steps.length === 0) {
    process.stdout.write('nothing to change\n');
    return;
  }
  for (const s of steps) {
    process.stdout.write(`${describeStep(s)}\n`);
    if (!flags.dryRun) await execute(c, s, process.env);
  }
  process.stdout.write(
    flags.dryRun ? `${steps.length} changes planned (dry run: nothing changed)\n` : `applied ${steps.length} changes\n`,
  );
}

export async function exportCommand(flags: { file?: string }): Promise<void> {
  const spec: ConfigSpec = exportState(await currentState(client()));
  const { stringify } = await import('yaml');
  const doc = {
    apiVersion: 'hoist/v1',
    registries: spec.registries,
    projects: spec.projects.map((p) => ({
      ...p,
      environments: p.environments.map(({ soakSeconds, ...e }) => ({
        ...e,
        ...(soakSeconds !== undefined ? { soak: `${soakSeconds}s` } : {}),
      })),
      pipeline: p.pipeline.map((e) => `${e.from} -> ${e.to}`),
      bindings: p.bindings.map((b) => ({
        application: b.application,
        environment: b.environment,
        ...(b.mode === 'pin' ? { pin: b.pin } : { trackLatest: true }),
      })),
    })),
    ...(spec.watches.length > 0
      ? {
          watches: spec.watches.map((w) => ({
            repository: w.repository,
            ...(w.intervalSeconds !== undefined ? { interval: `${w.intervalSeconds}s` } : {}),
          })),
        }
      : {}),
  };
  const text = `# hoist export, ${new Date().toISOString()}; apply with: hoist apply -f FILE\n${stringify(doc)}`;
  if (flags.file) writeFileSync(flags.file, text);
  else process.stdout.write(text);
}
