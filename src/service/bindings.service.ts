/**
 * Bindings: how an application's version in an environment is chosen. `track-latest` follows the newest good build
 * of the upstream environment automatically; `pin` holds the environment on one digest until someone changes the
 * pin, and changing it is itself a promotion (policy, approvals, history). Setting or switching a binding is audited.
 */
import type { Kysely } from 'kysely';
import { InvalidInput, NotFound } from '../errors.ts';
import { findApplicationByNames } from '../store/applications.repository.ts';
import {
  deleteApplicationBinding,
  findBinding,
  insertBinding,
  listProjectBindings,
  updateBinding,
} from '../store/bindings.repository.ts';
import { environmentIdByName } from '../store/environments.repository.ts';
import type { Schema } from '../store/schema.ts';
import type { Artifacts } from './artifacts.service.ts';
import { audited, type Actor } from './audited.ts';
import type { Automation } from './automation.ts';
import type { Environments } from './environments.service.ts';
import type { PromotionView, Promotions } from './promotions.service.ts';
import { parseSha256Digest } from '../oci/digest.ts';

export type BindingInput = { mode: 'track-latest' } | { mode: 'pin'; digest: string; comment?: string };

export interface BindingView {
  application: string;
  environment: string;
  mode: 'track-latest' | 'pin';
  pinnedDigest: string | null;
  /** The digest the environment holds now (the one that arrived last), if any. */
  current: string | null;
  updatedBy: string;
  updatedAt: string;
}

export class Bindings {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly artifacts: Artifacts,
    private readonly environments: Environments,
    private readonly promotions: Promotions,
    private readonly automation: Automation,
  ) {}

  private async ids(project: string, app: string, env: string): Promise<{ appId: string; envId: string }> {
    const a = await findApplicationByNames(this.db, project, app);
    if (!a) throw new NotFound('application', `${project}/${app}`);
    const envId = await environmentIdByName(this.db, a.projectId, env);
    if (envId === undefined) throw new InvalidInput(`project "${project}" has no environment "${env}"`, 'env');
    return { appId: a.id, envId };
  }

  async list(project: string): Promise<BindingView[]> {
    const rows = await listProjectBindings(this.db, project);
    const out: BindingView[] = [];
    for (const r of rows) {
      const current = await this.artifacts.current(r.appId, r.envId);
      out.push({
        application: r.application,
        environment: r.environment,
        mode: r.mode,
        pinnedDigest: r.pinned_digest,
        current: current ?? null,
        updatedBy: r.updated_by,
        updatedAt: r.updated_at.toISOString(),
      });
    }
    return out;
  }

  /**
   * Sets the binding. A pin to a digest the environment does not hold yet opens a promotion of it from the nearest
   * upstream environment that holds it, by the person who pinned (answered as `promotion`).
   */
  async set(
    actor: Actor & { isAdmin?: boolean },
    project: string,
    app: string,
    env: string,
    input: BindingInput,
  ): Promise<{ binding: BindingView; promotion: PromotionView | null }> {
    if (input.mode !== 'track-latest' && input.mode !== 'pin')
      throw new InvalidInput('"track-latest" or "pin"', 'mode');
    const pinned = input.mode === 'pin' ? parseSha256Digest(input.digest, 'digest') : null;
    const { appId, envId } = await this.ids(project, app, env);
    const before = await findBinding(this.db, appId, envId);
    let promotion: PromotionView | null = null;
    let from: string | undefined;
    if (pinned !== null) {
      const artifact = await this.artifacts.get(project, app, pinned);
      if ((await this.artifacts.current(appId, envId)) !== pinned) {
        const envs = await this.environments.list(project);
        const position = envs.find((e) => e.name === env)?.position ?? 0;
        const upstream = new Set(
          (await this.environments.pipeline(project)).filter((e) => e.to === env).map((e) => e.from),
        );
        const holders = artifact.environments
          .map((l) => envs.find((e) => e.name === l.environment))
          .filter((e) => e !== undefined && e.position < position && e.name !== env);
        from = (
          holders.find((e) => upstream.has(e?.name ?? '')) ??
          holders.sort((a, b) => (b?.position ?? 0) - (a?.position ?? 0))[0]
        )?.name;
        if (from === undefined)
          throw new InvalidInput(
            `${pinned} is in no environment before ${env} (it is in ${artifact.environments.map((l) => l.environment).join(', ') || 'none'}); promote it there first`,
            'digest',
          );
      }
    }
    const now = new Date();
    await audited(
      this.db,
      actor,
      { action: 'binding.set', objectType: 'binding', objectId: `${project}/${app}/${env}` },
      async (trx) => {
        const row = {
          application_id: appId,
          environment_id: envId,
          mode: input.mode,
          pinned_digest: pinned,
          updated_by: actor.username,
          updated_at: now,
        };
        if (before) await updateBinding(trx, row);
        else await insertBinding(trx, row);
        return {
          result: undefined,
          summary: {
            before: before ? { mode: before.mode, pinnedDigest: before.pinned_digest } : null,
            after: { mode: input.mode, pinnedDigest: pinned },
          },
        };
      },
    );
    if (pinned !== null && from !== undefined) {
      const comment = input.mode === 'pin' && input.comment ? input.comment : `pin ${env} to ${pinned}`;
      promotion = await this.promotions.request(actor, project, app, { digest: pinned, from, to: [env], comment });
    }
    if (input.mode === 'track-latest') await this.automation.trackLatest(project, app, env, now);
    const binding = (await this.list(project)).find(
      (b) => b.application === app && b.environment === env,
    ) as BindingView;
    return { binding, promotion };
  }

  async remove(actor: Actor, project: string, app: string, env: string): Promise<void> {
    const { appId, envId } = await this.ids(project, app, env);
    const before = await findBinding(this.db, appId, envId);
    if (!before) throw new NotFound('binding', `${project}/${app}/${env}`);
    await audited(
      this.db,
      actor,
      { action: 'binding.delete', objectType: 'binding', objectId: `${project}/${app}/${env}` },
      async (trx) => {
        await deleteApplicationBinding(trx, appId, envId);
        return { result: undefined, summary: { before: { mode: before.mode, pinnedDigest: before.pinned_digest } } };
      },
    );
  }
}
