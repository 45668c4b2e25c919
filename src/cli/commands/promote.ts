/**
 * `hoist promote`, `hoist approve|reject|cancel|retry ID`, `hoist requests`: promotion requests from the command line.
 */
import { randomUUID } from 'node:crypto';
import type { HistoryEntry, Promotion as PromotionView, PromotionState } from '../../client/index.ts';
import { blockerText } from '../../client/blocker-text.ts';
import { HoistError, InvalidInput } from '../../errors.ts';
import { parseSha256Digest } from '../../oci/digest.ts';
import { client } from '../client-config.ts';
import { formatBytes } from '../format.ts';
import { EXIT_FAILURE, EXIT_REFUSED } from '../exit-codes.ts';
import { outputFormat, print } from '../output.ts';
import { follow, noteMore, rowsWanted, type ListFlags } from '../paging.ts';

type Out = { output?: string };
/** `--wait [seconds]`: commander gives true for the flag alone. */
type Wait = { wait?: boolean | string };

/** The states in which hoist itself is still carrying a target out: nobody's decision is awaited. */
const CARRYING_OUT: ReadonlySet<PromotionState> = new Set(['QUEUED', 'PROMOTING']);
/** Targets that have not finished: carried out now, or waiting for approvals. */
const OPEN: ReadonlySet<PromotionState> = new Set([...CARRYING_OUT, 'AWAITING_APPROVAL']);
const DEFAULT_WAIT_SECONDS = 600;

function waitSeconds(wait: Wait['wait']): number | undefined {
  if (wait === undefined || wait === false) return undefined;
  if (wait === true) return DEFAULT_WAIT_SECONDS;
  const seconds = Number(wait);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new InvalidInput(`"${wait}" is not a number of seconds`, '--wait');
  return seconds;
}

/** Waiting for a request ran out of time: the request goes on without us. */
class Timeout extends HoistError {
  readonly code = 'TIMEOUT';
}

/**
 * With `--wait`: follows the request until no target is QUEUED or PROMOTING any more (promoted, failed, refused, or
 * waiting for approvals, a window or soak time, which are people's and time's to give), saying on a terminal what it
 * waits for. Gives up after the time asked for, with the states it saw.
 */
async function untilCarriedOut(project: string, p: PromotionView, seconds: number | undefined): Promise<PromotionView> {
  if (seconds === undefined) return p;
  const deadline = Date.now() + seconds * 1000;
  const moving = (v: PromotionView) => v.targets.filter((t) => CARRYING_OUT.has(t.state));
  const status = process.stderr.isTTY ? (line: string) => process.stderr.write(`\r\x1b[2K${line}`) : () => {};
  let current = p;
  for (let delay = 100; moving(current).length > 0; delay = Math.min(delay * 2, 1000)) {
    const states = moving(current).map((t) => `${t.environment} ${t.state}`);
    if (Date.now() >= deadline) {
      status('');
      throw new Timeout(
        `request ${p.id} still has ${states.join(', ')} after ${seconds} s; follow it with hoist requests --project ${project}`,
      );
    }
    status(`waiting for ${states.join(', ')}…`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    current = await client().promotions.get(project, p.id);
  }
  status('');
  return current;
}

/**
 * Sends a request (`--wait` is checked before), shows it (after `--wait`, as it ended) and sets the exit code: 3 for a
 * refused target, 1 for a failed one.
 */
async function sendAndShow(project: string, send: () => Promise<PromotionView>, f: Out & Wait): Promise<void> {
  const seconds = waitSeconds(f.wait);
  const v = await untilCarriedOut(project, await send(), seconds);
  await show(v, f);
  // The request was made and answered: a refused target is a "no" (3), not a failure to ask (1).
  if (v.targets.some((t) => t.state === 'REJECTED')) process.exitCode = EXIT_REFUSED;
  else if (v.targets.some((t) => t.state === 'FAILED')) process.exitCode = EXIT_FAILURE;
}

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
    // What still holds a waiting target back (approvals with who may give them, a window, soak time), as the web
    // console says it; a refused or failed target's reasons say why already.
    reasons: [
      ...t.reasons,
      ...(t.state === 'REJECTED' || t.state === 'FAILED' ? [] : t.blockedBy.map(blockerText)),
      ...gitopsNotes(t.gitops),
    ].join('; '),
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
  f: Out & Wait & { project: string; digest?: string; tag?: string; from: string; to: string; comment?: string },
): Promise<void> {
  if ((f.digest === undefined) === (f.tag === undefined))
    throw new InvalidInput('name the image by exactly one of --digest sha256:… or --tag', '--digest');
  if (f.digest !== undefined) parseSha256Digest(f.digest, '--digest');
  const to = f.to
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // One key per invocation: a request the client sends again (a retry after a timeout) is not made twice.
  const send = () =>
    client().promotions.request(
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
  await sendAndShow(f.project, send, f);
}

export async function decideCommand(
  decision: 'approve' | 'reject',
  id: string,
  f: Out & Wait & { project: string; for?: string; comment?: string },
): Promise<void> {
  const environments = f.for
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const send = () =>
    client().promotions.decide(f.project, id, decision, {
      ...(f.comment ? { comment: f.comment } : {}),
      ...(environments ? { environments } : {}),
    });
  await sendAndShow(f.project, send, f);
}

export async function cancelCommand(id: string, f: Out & { project: string }): Promise<void> {
  await show(await client().promotions.cancel(f.project, id), f);
}

/** `hoist retry ID`: queue the request's FAILED targets again (checked again as a new request would be). */
export async function retryCommand(id: string, f: Out & Wait & { project: string; for?: string }): Promise<void> {
  const environments = f.for
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  await sendAndShow(f.project, () => client().promotions.retry(f.project, id, environments ? { environments } : {}), f);
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

/**
 * One request, target by target, with what happened to each and when (the request page's timeline, from the audit
 * record): a row per step, oldest first, and where an open target stands now.
 */
export async function requestCommand(id: string, f: Out & { project: string }): Promise<void> {
  const p = await client().promotions.get(f.project, id);
  const format = outputFormat(f.output);
  if (format !== 'table') return print(p, format);
  const rows = p.targets.flatMap((t) => [
    ...(t.timeline ?? []).map((s) => ({
      at: s.at,
      target: t.environment,
      step: s.step,
      by: s.by,
      state: s.state ?? '',
      detail: [s.detail, s.bytesCopied !== undefined ? `${formatBytes(s.bytesCopied)} streamed` : '']
        .filter(Boolean)
        .join('; '),
    })),
    ...(OPEN.has(t.state)
      ? [
          {
            at: 'now',
            target: t.environment,
            step: 'now',
            by: '',
            state: t.state,
            detail: t.blockedBy.map(blockerText).join('; '),
          },
        ]
      : []),
  ]);
  return print(rows, format, ['at', 'target', 'step', 'by', 'state', 'detail']);
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
