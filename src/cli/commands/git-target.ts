/** `hoist env git-target set|show|unset`: where hoist commits an environment's promoted digests (GitOps write-back). */
import { readFileSync } from 'node:fs';
import { InvalidInput } from '../../errors.ts';
import type { GitTargetInput } from '../../client/types.ts';
import { client } from '../client-config.ts';
import { outputFormat, print } from '../output.ts';
import { readSecret } from '../read-secret.ts';

type Flags = Record<string, unknown> & { output?: string };
const EDITS = ['kustomize', 'helm', 'manifests'] as const;
const MODES = ['push', 'branch'] as const;

export interface GitTargetFlags extends Flags {
  url: string;
  branch: string;
  path: string;
  edit: string;
  key?: string;
  image?: string;
  newName?: string;
  mode?: string;
  username?: string;
  secretStdin?: boolean;
  knownHostsFile?: string;
}

export async function setGitTarget(project: string, env: string, f: GitTargetFlags): Promise<void> {
  const edit = EDITS.find((e) => e === f.edit);
  if (!edit) throw new InvalidInput(`"${f.edit}" is not ${EDITS.join(', ')}`, '--edit');
  const mode = f.mode === undefined ? undefined : MODES.find((m) => m === f.mode);
  if (f.mode !== undefined && !mode) throw new InvalidInput(`"${f.mode}" is not push or branch`, '--mode');
  const body: GitTargetInput = { url: f.url, branch: f.branch, path: f.path, edit };
  if (f.key !== undefined) body.key = f.key;
  if (f.image !== undefined) body.image = f.image;
  if (f.newName !== undefined) body.newName = f.newName;
  if (mode !== undefined) body.mode = mode;
  if (f.username !== undefined) body.username = f.username;
  if (f.secretStdin) body.secret = await readSecret('token or SSH private key: ', true);
  if (f.knownHostsFile !== undefined) body.knownHosts = readFileSync(f.knownHostsFile, 'utf8');
  await print(await client().gitTargets.put(project, env, body), outputFormat(f.output));
}

export async function showGitTarget(project: string, env: string, f: Flags): Promise<void> {
  await print(await client().gitTargets.get(project, env), outputFormat(f.output));
}

export async function unsetGitTarget(project: string, env: string): Promise<void> {
  await client().gitTargets.remove(project, env);
}
