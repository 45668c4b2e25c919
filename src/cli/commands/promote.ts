/**
 * `hoist promote`, `hoist approve|reject|cancel|retry ID`, `hoist requests`: promotion requests from the command line.
 */
import { randomUUID } from 'node:crypto';
import type { HistoryEntry, Promotion as PromotionView, PromotionState } from '../../client/index.ts';
import { InvalidInput } from '../../errors.ts';
import { parseSha256Digest } from '../../oci/digest.ts';
import { client } from '../client-config.ts';
import { EXIT_REFUSED } from '../exit-codes.ts';
import { outputFormat, print } from '../output.ts';
import { follow, noteMore, rowsWanted, type ListFlags } from '../paging.ts';

type Out = { output?: string };

function gitopsNotes(g: PromotionView['targets'][number]['gitops']): string[] {
  if (!g) return [];
  if (g.status === 'GITOPS_PUSHED') return [`git: ${g.commit?.slice(0, 12) ?? ''} on ${g.branch ?? ''}`];
  return g.error ? [`git: ${g.error}`] : [];
}

function summary(p: PromotionView): Array<Record<string, unknown>> {
  return p.targets.map((t) => ({
    id: p.id,
    app: p.release ? `release ${p.release.name} (${p.release.applications.length} apps)` : p.application,
    digest: p.digest.slice(0, 19),
    from: p.from,
    to: t.environment,
    // GitOps write-back status follows the state (PROMOTED GITOPS_PENDING), with git's error or the commit pushed.
    state: t.gitops ? `${t.state} ${t.gitops.status}` : t.state,
    approvals: `${t.approvals.filter((a) => a.decision === 'approve').length}/${t.approvalsNeeded}`,
    requestedBy: p.requestedBy,
    reasons: [...t.reasons, ...gitopsNotes(t.gitops)].join('; '),
  }));
}

export async function show(value: PromotionView | PromotionView[], f: Out): Promise<void> {
  const format = outputFormat(f.output);
  if (format !== 'table') return print(value, format);
  return print((Array.isArray(value) ? value : [value]).flatMap(summary), format, [
    'id',
    'app',
    'from',
    'to',
    'state',
    'approvals',
    'requestedBy',
    'reasons',
  ]);
}

export async function promoteCommand(
  app: string,
  f: Out & { project: string; digest?: string; tag?: string; from: string; to: string; comment?: string },
): Promise<void> {
  if ((f.digest === undefined) === (f.tag === undefined))
    throw new InvalidInput('name the image by exactly one of --digest sha256:… or --tag', '--digest');
  if (f.digest !== undefined) parseSha256Digest(f.digest, '--digest');
  const to = f.to
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // One key per invocation: a request the client sends again (a retry after a timeout) is not made twice.
  const p = await client().promotions.request(
    f.project,
    app,
    {
      from: f.from,
      to,
      ...(f.digest ? { digest: f.digest } : {}),
      ...(f.tag ? { tag: f.tag } : {}),
      ...(f.comment ? { comment: f.comment } : {}),
    },
    { idempotencyKey: randomUUID() },
  );
  await show(p, f);
  // The request was made and answered: a refused target is a "no" (3), not a failure to ask (1).
  if (p.targets.some((t) => t.state === 'REJECTED')) process.exitCode = EXIT_REFUSED;
}

export async function decideCommand(
  decision: 'approve' | 'reject',
  id: string,
  f: Out & { project: string; for?: string; comment?: string },
): Promise<void> {
  const environments = f.for
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  await show(
    await client().promotions.decide(f.project, id, decision, {
      ...(f.comment ? { comment: f.comment } : {}),
      ...(environments ? { environments } : {}),
    }),
    f,
  );
}

export async function cancelCommand(id: string, f: Out & { project: string }): Promise<void> {
  await show(await client().promotions.cancel(f.project, id), f);
}

/** `hoist retry ID`: queue the request's FAILED targets again (checked again as a new request would be). */
export async function retryCommand(id: string, f: Out & { project: string; for?: string }): Promise<void> {
  const environments = f.for
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  await show(await client().promotions.retry(f.project, id, environments ? { environments } : {}), f);
}

export async function requestsCommand(
  f: Out & ListFlags & { project: string; env?: string; state?: string; pendingForMe?: boolean },
): Promise<void> {
  const c = client();
  const wanted = rowsWanted(f);
  const { items, more } = await follow(
    (page) =>
      c.promotions.listPage(f.project, {
        ...(f.env ? { environment: f.env } : {}),
        // The server decides who may approve (roles, separation of duties, decided already), as for approving.
        ...(f.pendingForMe ? { pendingFor: 'me' as const } : {}),
        ...(f.state ? { state: f.state as PromotionState } : {}),
        ...page,
      }),
    wanted,
  );
  await show(items, f);
  noteMore(items.length, more);
}

/** Exit 0 when the digest may run in the environment (for a deploy pipeline's gate), 3 with the reason otherwise. */
export async function checkDeployCommand(
  f: Out & { project: string; env: string; digest: string; deployer?: string; requireAttestation?: boolean },
): Promise<void> {
  const c = client();
  const [r, attestation] = await Promise.all([
    c.promotions.deployable(f.project, f.env, f.digest, f.deployer),
    // The signed record on the image itself, read from the registry: a database row alone does not pass this gate.
    f.requireAttestation ? c.attestation.check(f.project, f.env, f.digest) : undefined,
  ]);
  const allowed = r.allowed && (attestation === undefined || attestation.verified);
  if (outputFormat(f.output) === 'table') {
    process.stdout.write(`${r.allowed ? 'allowed' : 'NOT allowed'}: ${r.reason}\n`);
    if (attestation)
      process.stdout.write(
        `${attestation.verified ? 'attested' : 'NOT attested'}: ${attestation.reason}${attestation.reference ? ` (${attestation.reference})` : ''}\n`,
      );
  } else await print(attestation ? { ...r, allowed, attestation } : r, outputFormat(f.output));
  if (!allowed) process.exitCode = EXIT_REFUSED;
}

export async function historyCommand(
  f: Out & ListFlags & { project: string; app?: string; env?: string; digest?: string; user?: string; since?: string },
): Promise<void> {
  const q: Record<string, string> = {};
  for (const k of ['app', 'env', 'digest', 'user', 'since'] as const) if (f[k] !== undefined) q[k] = f[k];
  const c = client();
  const { items, more } = await follow((page) => c.promotions.historyPage(f.project, { ...q, ...page }), rowsWanted(f));
  const format = outputFormat(f.output);
  await (format !== 'table' ? print(items, format) : historyTable(items));
  noteMore(items.length, more);
}

async function historyTable(items: HistoryEntry[]): Promise<void> {
  await print(
    items.map((h) => ({
      ...h,
      digest: h.digest.slice(0, 19),
      approvals: h.approvals.filter((a) => a.decision === 'approve').map((a) => a.username),
      policy: h.policy ? `${h.policy.name}@${h.policy.version}` : '-',
    })),
    'table',
    [
      'at',
      'application',
      'from',
      'to',
      'digest',
      'tag',
      'state',
      'requestedBy',
      'approvals',
      'policy',
      'bytesCopied',
      'comment',
    ],
  );
}
