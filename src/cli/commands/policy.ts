/**
 * `hoist policy create|update|list|show|delete|apply`. Flags follow Devtron's devtctl too (`--passCondition`,
 * `--approverCount`, `--allowRequestFromApprove`, …; main.ts maps those spellings), and `policy apply -f` reads
 * Devtron's `kind: artifactPromotionPolicy` file.
 */
import type { HoistClient } from '../../client/index.ts';
import { loadYamlFile } from '../../config/yaml-input.ts';
import { ApiError, InvalidInput } from '../../errors.ts';
import type { ApplicationEnvironment as Binding, PolicyInput } from '../../client/index.ts';
import { client } from '../client-config.ts';
import { outputFormat, print } from '../output.ts';

export interface PolicyFlags {
  name?: string;
  description?: string;
  passCondition?: string[];
  failCondition?: string[];
  approverCount?: string;
  allowRequestFromApprove?: boolean;
  allowImageBuilderFromApprove?: boolean;
  allowApproverFromDeploy?: boolean;
  allowSkipStages?: boolean;
  output?: string;
}

function input(name: string, f: PolicyFlags): PolicyInput {
  const p: PolicyInput = { name };
  if (f.description !== undefined) p.description = f.description;
  if (f.passCondition !== undefined) p.passConditions = f.passCondition;
  if (f.failCondition !== undefined) p.failConditions = f.failCondition;
  if (f.approverCount !== undefined) {
    const n = Number(f.approverCount);
    if (!Number.isInteger(n) || n < 0 || n > 6)
      throw new InvalidInput(`"${f.approverCount}" is not a whole number from 0 to 6`, '--approver-count');
    p.approverCount = n;
  }
  if (f.allowRequestFromApprove !== undefined) p.allowRequestFromApprove = f.allowRequestFromApprove;
  if (f.allowImageBuilderFromApprove !== undefined) p.allowImageBuilderFromApprove = f.allowImageBuilderFromApprove;
  if (f.allowApproverFromDeploy !== undefined) p.allowApproverFromDeploy = f.allowApproverFromDeploy;
  if (f.allowSkipStages !== undefined) p.allowSkipStages = f.allowSkipStages;
  return p;
}

const COLUMNS = ['name', 'version', 'approverCount', 'passConditions', 'failConditions', 'appliesTo'];

export const policy = {
  create: async (f: PolicyFlags) => {
    if (!f.name) throw new InvalidInput('required', '--name');
    await print(await client().policies.create(input(f.name, f)), outputFormat(f.output));
  },
  update: async (name: string, f: PolicyFlags) =>
    print(await client().policies.put(input(name, f)), outputFormat(f.output)),
  list: async (f: PolicyFlags) => print(await client().policies.list(), outputFormat(f.output), COLUMNS),
  show: async (name: string, f: PolicyFlags & { version?: string }) =>
    print(
      await client().policies.get(name, f.version === undefined ? undefined : Number(f.version)),
      outputFormat(f.output),
    ),
  /**
   * Deletes a policy and says what that did to the requests waiting under it (STALE: to be requested again). When
   * any would be affected the server refuses without `--force`, listing them; that is bad usage here (exit 2).
   */
  remove: async (name: string, f: { force?: boolean; output?: string }) => {
    let done;
    try {
      done = await client().policies.remove(name, { force: f.force ?? false });
    } catch (e) {
      // The one refusal that --force lifts: waiting targets would go STALE (the server lists them as `affected`).
      const affected = e instanceof ApiError && (e.details as { affected?: unknown } | undefined)?.affected;
      if (e instanceof ApiError && e.status === 409 && affected && !f.force)
        throw new InvalidInput(e.message, '--force');
      throw e;
    }
    const stale = done?.stale ?? [];
    const format = outputFormat(f.output);
    if (format !== 'table') return print({ deleted: name, stale }, format);
    process.stdout.write(
      stale.length === 0
        ? `deleted policy ${name}; no promotion was waiting under it\n`
        : `deleted policy ${name}; ${stale.length} waiting promotion target(s) are now STALE and must be requested again:\n`,
    );
    if (stale.length > 0)
      await print(stale, format, ['request', 'project', 'application', 'environment', 'before', 'after']);
  },
  apply: async (f: { file: string; project?: string; output?: string }) => {
    const c = client();
    const { policies, bindings } = await readApplyFile(c, f.file, f.project);
    for (const name of policies) await print(await c.policies.apply(name, bindings), outputFormat(f.output), COLUMNS);
  },
  /** `hoist policy unapply NAME PROJECT/APP/ENV…`: the only way a policy binding goes away. */
  unapply: async (name: string, targets: string[], f: { output?: string }) => {
    const bindings = targets.map((t, i) => {
      const [project, application, environment, ...rest] = t.split('/');
      if (!project || !application || !environment || rest.length > 0)
        throw new InvalidInput(`"${t}" is not PROJECT/APP/ENV`, `target ${i + 1}`);
      return { project, application, environment };
    });
    await print(await client().policies.unapply(name, bindings), outputFormat(f.output), COLUMNS);
  },
};

/** Devtron's apply file: `kind: artifactPromotionPolicy`, `spec.payload.applicationEnvironments[{appName, envName}]`, `applyToPolicyNames`. */
async function readApplyFile(
  c: HoistClient,
  file: string,
  project?: string,
): Promise<{ policies: string[]; bindings: Binding[] }> {
  const root = loadYamlFile(file, '-f') as {
    kind?: string;
    spec?: { payload?: Record<string, unknown> } & Record<string, unknown>;
  };
  if (root?.kind !== 'artifactPromotionPolicy') throw new InvalidInput(`${file}: kind must be artifactPromotionPolicy`);
  const payload = (root.spec?.payload ?? root.spec ?? {}) as {
    applicationEnvironments?: Array<{ appName?: string; envName?: string; projectName?: string }>;
    applyToPolicyNames?: string[];
    applyToPolicyName?: string;
  };
  const policies = payload.applyToPolicyNames ?? (payload.applyToPolicyName ? [payload.applyToPolicyName] : []);
  if (policies.length === 0) throw new InvalidInput(`${file}: spec.payload.applyToPolicyNames lists no policy`);
  const pairs = payload.applicationEnvironments ?? [];
  if (pairs.length === 0) throw new InvalidInput(`${file}: spec.payload.applicationEnvironments is empty`);
  // Devtron's application names are global; hoist's live in projects: use --project, or find the one project holding the app.
  const projects = project !== undefined ? [project] : (await c.projects.list()).map((p) => p.name);
  const appsOf = new Map(await Promise.all(projects.map(async (p) => [p, await c.projects.applications(p)] as const)));
  const bindings = pairs.map((pair, i): Binding => {
    if (!pair.appName || !pair.envName)
      throw new InvalidInput(`${file}: applicationEnvironments[${i}] needs appName and envName`);
    const owners = pair.projectName
      ? [pair.projectName]
      : projects.filter((p) => appsOf.get(p)?.includes(pair.appName!));
    if (owners.length !== 1)
      throw new InvalidInput(
        `${file}: application "${pair.appName}" is in ${owners.length === 0 ? 'no project' : `several projects (${owners.join(', ')})`}; pass --project`,
      );
    return { project: owners[0]!, application: pair.appName, environment: pair.envName };
  });
  return { policies, bindings };
}
