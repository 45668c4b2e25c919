/**
 * An environment's Git target: where hoist writes a promoted digest back (repository URL, branch, path, what to edit,
 * push or a review branch per promotion), its token or SSH key sealed with the SecretBox like registry credentials
 * and never answered. A protected environment's Git target is changed only by an admin (it decides what prod
 * deploys), and a file:// URL, which reads the server's own disk, only by an admin too. The URL must be one the
 * outbound policy allows.
 */
import type { Kysely } from 'kysely';
import { Forbidden, InvalidInput, NotFound } from '../errors.ts';
import { checkGitUrl } from '../gitops/remote.ts';
import type { OutboundPolicy } from '../net/outbound-policy.ts';
import { findEnvironmentByName, type EnvironmentRow } from '../store/environments.repository.ts';
import { deleteGitTarget, findGitTarget, putGitTarget, type GitTargetRow } from '../store/gitops.repository.ts';
import { projectIdByName } from '../store/projects.repository.ts';
import type { GitEdit, Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import type { SecretBox } from './secret-box.ts';

export const GIT_EDITS: readonly GitEdit[] = ['kustomize', 'helm', 'manifests'];
export const DEFAULT_HELM_KEY = 'image.digest';
const BRANCH = /^(?!\/|.*\/\/|.*\.\.|.*@\{|.*\.lock$|.*\/$)[A-Za-z0-9._/-]{1,200}$/;
const PATH = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/{}-]{1,500}$/;

export interface GitTargetInput {
  url: string;
  branch: string;
  path: string;
  edit: GitEdit;
  /** edit helm: the dotted key (default image.digest). */
  key?: string | null;
  /** The image name as the files spell it; default the environment's registry/repository. */
  image?: string | null;
  /** edit kustomize: a newName to write. */
  newName?: string | null;
  mode?: 'push' | 'branch';
  username?: string | null;
  /** A token (http/https) or SSH private key; null removes it; absent keeps the stored one. */
  secret?: string | null;
  knownHosts?: string | null;
}

export interface GitTargetView {
  url: string;
  branch: string;
  path: string;
  edit: GitEdit;
  key: string | null;
  image: string | null;
  newName: string | null;
  mode: 'push' | 'branch';
  username: string | null;
  hasSecret: boolean;
  hasKnownHosts: boolean;
  updatedBy: string;
  updatedAt: string;
}

const view = (r: GitTargetRow): GitTargetView => ({
  url: r.url,
  branch: r.branch,
  path: r.path,
  edit: r.edit,
  key: r.key,
  image: r.image,
  newName: r.new_name,
  mode: r.mode,
  username: r.username,
  hasSecret: r.secret_enc !== null,
  hasKnownHosts: r.known_hosts !== null,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at.toISOString(),
});

export class GitTargets {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly box: SecretBox,
    private readonly outbound: OutboundPolicy,
  ) {}

  private async environment(project: string, env: string): Promise<EnvironmentRow> {
    const projectId = await projectIdByName(this.db, project);
    if (projectId === undefined) throw new NotFound('project', project);
    const e = await findEnvironmentByName(this.db, projectId, env);
    if (!e) throw new NotFound('environment', `${project}/${env}`);
    return e;
  }

  async get(project: string, env: string): Promise<GitTargetView> {
    const e = await this.environment(project, env);
    const row = await findGitTarget(this.db, e.id);
    if (!row) throw new NotFound('git target', `${project}/${env}`);
    return view(row);
  }

  private guard(actor: Actor, e: EnvironmentRow, project: string, what: string): void {
    if (e.protected && !actor.isAdmin)
      throw new Forbidden(`environment "${project}/${e.name}" is protected: only an admin ${what} its git target`);
  }

  async set(actor: Actor, project: string, env: string, input: GitTargetInput): Promise<GitTargetView> {
    const e = await this.environment(project, env);
    this.guard(actor, e, project, 'changes');
    const checked = checkGitUrl(input.url, this.outbound);
    if (!checked.ok) throw new InvalidInput(checked.message, 'url');
    if (checked.scheme === 'file' && !actor.isAdmin)
      throw new Forbidden('a file:// git target reads the server’s own disk: only an admin sets one');
    if (!BRANCH.test(input.branch)) throw new InvalidInput(`"${input.branch}" is not a branch name`, 'branch');
    if (!PATH.test(input.path))
      throw new InvalidInput(
        'the path is relative to the repository root, without ".." (e.g. apps/{app}/prod)',
        'path',
      );
    if (input.key !== undefined && input.key !== null && !/^[A-Za-z0-9_{}-]+(\.[A-Za-z0-9_{}-]+)*$/.test(input.key))
      throw new InvalidInput(`"${input.key}" is not a dotted key (e.g. image.digest)`, 'key');
    if (input.key && input.edit !== 'helm') throw new InvalidInput('key is for edit helm', 'key');
    if (input.newName && input.edit !== 'kustomize') throw new InvalidInput('newName is for edit kustomize', 'newName');
    if (input.knownHosts && checked.scheme !== 'ssh')
      throw new InvalidInput('knownHosts is for ssh URLs', 'knownHosts');
    const existing = await findGitTarget(this.db, e.id);
    const secret =
      input.secret === undefined
        ? (existing?.secret_enc ?? null)
        : input.secret === null
          ? null
          : this.box.seal(input.secret);
    const now = new Date();
    const row: GitTargetRow = {
      environment_id: e.id,
      url: checked.url.href,
      branch: input.branch,
      path: input.path,
      edit: input.edit,
      key: input.edit === 'helm' ? (input.key ?? DEFAULT_HELM_KEY) : null,
      image: input.image ?? null,
      new_name: input.edit === 'kustomize' ? (input.newName ?? null) : null,
      mode: input.mode ?? 'push',
      username: input.username ?? null,
      secret_enc: secret,
      known_hosts: input.knownHosts === undefined ? (existing?.known_hosts ?? null) : input.knownHosts,
      updated_by: actor.username,
      updated_at: now,
    };
    return audited(
      this.db,
      actor,
      { action: 'environment.git-target.set', objectType: 'environment', objectId: `${project}/${env}` },
      async (trx) => {
        await putGitTarget(trx, row);
        const after = view(row);
        return {
          result: after,
          summary: { before: existing ? view(existing) : null, after, secretChanged: input.secret !== undefined },
        };
      },
    );
  }

  async unset(actor: Actor, project: string, env: string): Promise<void> {
    const e = await this.environment(project, env);
    this.guard(actor, e, project, 'removes');
    const existing = await findGitTarget(this.db, e.id);
    if (!existing) throw new NotFound('git target', `${project}/${env}`);
    await audited(
      this.db,
      actor,
      { action: 'environment.git-target.delete', objectType: 'environment', objectId: `${project}/${env}` },
      async (trx) => {
        await deleteGitTarget(trx, e.id);
        return { result: undefined, summary: { before: view(existing) } };
      },
    );
  }
}
