/**
 * Works the GitOps write-back jobs on the leased queue (./leased-queue.ts). A job is added in the transaction that
 * records its promotion target PROMOTED (src/store/gitops.repository.ts, enqueueGitopsWrite), so a crash never loses
 * one; a job whose worker died is claimed again, and since an edit that changes nothing makes no commit, a retry never
 * commits twice. Jobs of one environment are written in the order their promotions were recorded: a job with an
 * earlier one still unfinished waits for it (so a later digest is never overwritten by an earlier). A push refused
 * because the branch moved is retried at once a few times (src/gitops/write-back.ts), then by the queue with the one
 * capped, jittered backoff for `retryForMs`; a refusal by the server fails the job with git's message. The state is
 * part of the target's view (`gitops.status`: GITOPS_PENDING, GITOPS_PUSHED, GITOPS_FAILED) and audited.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { GitFailed } from '../gitops/git.ts';
import { openRemote } from '../gitops/remote.ts';
import { isTransientGitFailure, writeBack, WriteBackFailed } from '../gitops/write-back.ts';
import type { EditSpec } from '../gitops/yaml-edit.ts';
import { OutboundRefused, type OutboundPolicy } from '../net/outbound-policy.ts';
import { isTransient } from '../oci/transient.ts';
import { appendAudit } from '../store/audit.repository.ts';
import { earlierUnfinished, GITOPS_JOBS, loadGitopsJob, type GitopsJobRow } from '../store/gitops.repository.ts';
import { requeueJob, settleJob } from '../store/jobs.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import type { Schema } from '../store/schema.ts';
import { DEFAULT_HELM_KEY } from './git-targets.service.ts';
import { LeasedQueue, type Job } from './leased-queue.ts';
import { parseRegistryUrl } from './registries.service.ts';
import type { SecretBox } from './secret-box.ts';

export interface GitopsWriterOptions {
  leaseMs?: number;
  /** How long a transiently failing write-back is retried (HOIST_GITOPS_RETRY_FOR, default 30 minutes). */
  retryForMs?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per git call (default 60 s). */
  gitTimeoutMs?: number;
  logger?: Logger;
  notifier?: Notifier;
}

/** The commit message: who approved what, from where to where. */
export function commitMessage(t: GitopsJobRow): string {
  const short = t.digest.replace(/^sha256:/, '').slice(0, 12);
  return [
    `hoist: promote ${t.app} ${short} ${t.from} → ${t.to}`,
    '',
    `Project: ${t.project}`,
    `Application: ${t.app}`,
    `From: ${t.from}`,
    `To: ${t.to}`,
    `Digest: ${t.digest}`,
    `Request: ${t.requestId}`,
    `Requested-by: ${t.requestedBy}`,
    `Approved-by: ${t.approvers.length > 0 ? t.approvers.join(', ') : '(no approval required)'}`,
    ...(t.comment ? ['', t.comment] : []),
    '',
  ].join('\n');
}

/** The edit a job makes: `{app}` filled in; the image named as the files spell it (default the environment's). */
export function editOf(t: GitopsJobRow): { path: string; spec: EditSpec } {
  const app = (s: string) => s.replaceAll('{app}', t.app);
  const image = app(t.image ?? `${parseRegistryUrl(t.registryUrl).host}/${t.repository}`);
  const path = app(t.path);
  switch (t.edit) {
    case 'kustomize':
      return {
        path,
        spec: { kind: 'kustomize', image, digest: t.digest, newName: t.newName ? app(t.newName) : undefined },
      };
    case 'helm':
      return { path, spec: { kind: 'helm', key: app(t.key ?? DEFAULT_HELM_KEY), digest: t.digest } };
    case 'manifests':
      return { path, spec: { kind: 'manifests', image, digest: t.digest } };
  }
}

export class GitopsWriter {
  readonly queue: LeasedQueue;
  private readonly gitTimeoutMs: number;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly box: SecretBox,
    private readonly outbound: OutboundPolicy,
    o: GitopsWriterOptions = {},
  ) {
    this.gitTimeoutMs = o.gitTimeoutMs ?? 60_000;
    this.queue = new LeasedQueue(
      db,
      GITOPS_JOBS,
      { run: (job) => this.write(job), giveUp: (job, error) => this.fail(job, error) },
      {
        name: 'gitops',
        leaseMs: o.leaseMs ?? 60_000,
        maxAttempts: 10,
        retryForMs: o.retryForMs ?? 30 * 60_000,
        concurrency: 4,
        backoff: { baseDelayMs: o.backoffMs ?? 2000, maxDelayMs: o.maxBackoffMs ?? 5 * 60_000 },
        logger: (o.logger ?? pino({ level: 'silent' })).child({ queue: 'gitops' }),
        transient: (e) =>
          e instanceof WriteBackFailed
            ? e.transient
            : e instanceof GitFailed
              ? isTransientGitFailure(e)
              : !(e instanceof OutboundRefused) && isTransient(e),
        ...(o.notifier ? { notifier: o.notifier } : {}),
      },
    );
  }

  private async write(job: Job): Promise<void> {
    const t = await loadGitopsJob(this.db, job.id);
    if (!t) {
      // The environment's git target was removed after the promotion: nothing to write.
      await settleJob(this.db, GITOPS_JOBS, job, {
        state: 'FAILED',
        last_error: 'the environment has no git target any more',
        done_at: new Date(),
      });
      return;
    }
    const earlier = await earlierUnfinished(this.db, t);
    if (earlier) {
      await requeueJob(this.db, GITOPS_JOBS, job, {
        runAfter: new Date(Date.now() + 1000),
        message: `waiting for the earlier write-back ${earlier} of ${t.to}`,
        countAttempt: false,
      });
      return;
    }
    const remote = await openRemote(
      {
        url: t.url,
        username: t.username,
        secret: t.secretEnc ? this.box.open(t.secretEnc) : null,
        knownHosts: t.knownHosts,
      },
      this.outbound,
    );
    const { path, spec } = editOf(t);
    const result = await writeBack({
      remote,
      branch: t.branch,
      mode: t.mode,
      reviewBranch: `hoist/${t.to}/${t.app}-${t.requestId.slice(0, 8)}`,
      path,
      spec,
      message: commitMessage(t),
      signal: job.signal,
      timeoutMs: this.gitTimeoutMs,
    }).finally(() => remote.close());
    const at = new Date();
    await this.db.transaction().execute(async (trx) => {
      await settleJob(trx, GITOPS_JOBS, job, {
        state: 'DONE',
        commit_sha: result.commit,
        branch: result.branch,
        last_error: null,
        done_at: at,
      });
      await appendAudit(trx, {
        actor: 'hoist',
        action: 'promotion.gitops',
        objectType: 'promotion',
        objectId: t.requestId,
        summary: {
          environment: t.to,
          digest: t.digest,
          commit: result.commit,
          branch: result.branch,
          committed: result.committed,
          path,
        },
      });
    });
    this.queue.notify();
  }

  private async fail(job: Job, error: Error): Promise<void> {
    const t = await loadGitopsJob(this.db, job.id);
    await this.db.transaction().execute(async (trx) => {
      await settleJob(trx, GITOPS_JOBS, job, { state: 'FAILED', last_error: error.message, done_at: new Date() });
      if (t)
        await appendAudit(trx, {
          actor: 'hoist',
          action: 'promotion.gitops-failed',
          objectType: 'promotion',
          objectId: t.requestId,
          summary: { environment: t.to, digest: t.digest, error: error.message, attempts: job.attempts },
        });
    });
    this.queue.notify();
  }

  runOne(): Promise<boolean> {
    return this.queue.runOne();
  }

  start(): Promise<void> {
    return this.queue.start();
  }

  stop(graceMs = 0): Promise<void> {
    return this.queue.stop(graceMs);
  }
}
