/**
 * Push events in. A registry (CNCF distribution notifications, Harbor, or anything through the generic hook) proves
 * who it is with the shared secret configured for it; its events are recorded once each (the registry retries
 * forever, so the event id is the key), answered at once, and worked through by a queue in the database: the pushed
 * image becomes an artifact of every application whose environments hold it (a referrer pushed later refreshes the
 * image it refers to instead), and the automation runs for it.
 */
import { projectIdsNamed } from '../store/namespaces.repository.ts';
import { listPushEvents } from '../store/push-events.query.ts';
import {
  deletePushEvents,
  digestInFlight,
  getPushEvent,
  insertPushEvents,
  registryIdByHookSecret,
  replaceHookSecret,
} from '../store/push-events.repository.ts';
import { findRegistryById, type RegistryRow } from '../store/registries.repository.ts';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PushEvent } from '../automation/push-events.ts';
import { InvalidInput, NotFound, RegistryError, Unauthenticated } from '../errors.ts';
import { parseManifest } from '../oci/manifest.ts';
import { openRepository } from '../oci/registry.ts';
import type { FetchedManifest } from '../oci/registry-client.ts';
import { PUSH_EVENT_JOBS, requeueJob, settleJob } from '../store/jobs.repository.ts';
import type { Notifier } from '../store/notifier.ts';
import type { PushEventState, Schema } from '../store/schema.ts';
import type { Artifacts } from './artifacts.service.ts';
import { audited, type Actor } from './audited.ts';
import type { Automation } from './automation.ts';
import type { Page } from './page.ts';
import type { Registries } from './registries.service.ts';
import { LeasedQueue, type Job } from './leased-queue.ts';
import { OwnPushes, RECENT_MS } from './own-pushes.ts';
import { holdingsOfDigest } from '../store/push-echo.query.ts';
import { EchoLog, REFERRER_ECHO_OUTCOME } from '../events/echo-log.ts';
import { SoleHolders } from '../events/sole-holder.ts';
import { environmentsPerApplicationInRegistry } from '../store/artifacts.repository.ts';

export type HookKind = 'distribution' | 'harbor' | 'generic';
export const HOOK_KINDS: readonly HookKind[] = ['distribution', 'harbor', 'generic'];
/** A referrer whose subject's event is still open looks again this often, for at most this long after it arrived. */
const SUBJECT_WAIT_MS = 300;
const SUBJECT_WAIT_FOR_MS = 30_000;

/** How long ago the claimed event was received (the claim answers `received_at`); unknown: as if long ago. */
function ageOf(job: Job): number {
  const at = job.row?.received_at;
  return at instanceof Date || typeof at === 'string' ? Date.now() - new Date(at).getTime() : Infinity;
}

export interface PushEventView {
  id: string;
  registry: string;
  source: string;
  repository: string;
  tag: string | null;
  digest: string;
  state: PushEventState;
  outcome: string | null;
  receivedAt: string;
  doneAt: string | null;
}

/**
 * Pauses between the registry's answers before an event's tag counts as unconfirmed (about 2 s in all). The tag is
 * usually linked a few milliseconds after the event is sent: the first pauses are short.
 */
const CONFIRM_PAUSES_MS = [0, 10, 25, 50, 100, 200, 400, 600, 600];

/** The referrers tag fallback (`sha256-<hex>`), and older cosign's signature and attestation tags. */
const REFERRERS_TAG = /^(sha256|sha512)-([0-9a-f]{64}|[0-9a-f]{128})(?:\.sig|\.att)?$/;

/** How long a hook secret the database confirmed is believed without asking again. */
const HOOK_SECRET_TTL_MS = 5000;

const hashSecret = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The secret in an Authorization header: `Bearer X`, `Token X`, Basic with X as the password, or X itself. */
export function secretFromHeader(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const [scheme, rest] = header.trim().split(/\s+/, 2);
  if (rest === undefined) return scheme;
  if (/^(bearer|token)$/i.test(scheme ?? '')) return rest;
  if (/^basic$/i.test(scheme ?? '')) {
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return header.trim();
}

export interface IntakeOptions {
  /** Attempts in all for an event whose work fails transiently (default 5). */
  maxAttempts?: number;
  leaseMs?: number;
  concurrency?: number;
  logger?: Logger;
  notifier?: Notifier;
  /** What this process's runner is writing: the events reporting it back are recognised without a round trip. */
  ownPushes?: OwnPushes;
}

/** The event's own columns as its claim answered them (PUSH_EVENT_JOBS.returning), when it did. */
function pushedBy(
  row: Record<string, unknown> | undefined,
): { registry_id: string; repository: string; tag: string | null; digest: string } | undefined {
  if (
    typeof row?.registry_id !== 'string' ||
    typeof row.repository !== 'string' ||
    typeof row.digest !== 'string' ||
    (row.tag !== null && typeof row.tag !== 'string')
  )
    return undefined;
  return { registry_id: row.registry_id, repository: row.repository, tag: row.tag, digest: row.digest };
}

export class Intake {
  /** Received events are jobs of the leased queue. */
  readonly queue: LeasedQueue;
  private readonly ownPushes: OwnPushes;
  /** Events recognised at the hook as this process's own writes, recorded IGNORED in batches (src/events). */
  private readonly echoLog: EchoLog;
  /**
   * Hook secrets recently proven, by kind and hash: a registry sends a request per event (per blob, per pull), and
   * each cost a query. Only what the database confirmed is kept, for HOOK_SECRET_TTL_MS; a secret replaced here is
   * forgotten at once, one replaced through another replica after that time at the latest.
   */
  private readonly provenSecrets = new Map<string, { registryId: string; until: number }>();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly registries: Registries,
    private readonly artifacts: Artifacts,
    private readonly automation: Automation,
    o: IntakeOptions = {},
  ) {
    this.ownPushes = o.ownPushes ?? new OwnPushes();
    const soleHolders = new SoleHolders((registryId) => environmentsPerApplicationInRegistry(db, registryId));
    this.ownPushes.soleHolder ??= (p, environmentId) => soleHolders.sole(p, environmentId);
    this.echoLog = new EchoLog(db, o.logger);
    this.queue = new LeasedQueue(
      db,
      PUSH_EVENT_JOBS,
      {
        run: (job) => this.process(job),
        giveUp: (job, error) =>
          settleJob(db, PUSH_EVENT_JOBS, job, { state: 'FAILED', outcome: error.message, done_at: new Date() }),
      },
      {
        name: 'push-events',
        leaseMs: o.leaseMs ?? 30_000,
        maxAttempts: o.maxAttempts ?? 5,
        // Not more: on the embedded database 8 at once made a burst of 100 pushes slower (40 s against 20-32 s at
        // load 17-20, npm run bench:events): the hook's inserts, which the registry waits for, queue behind them.
        concurrency: o.concurrency ?? 4,
        backoff: { baseDelayMs: 1000, maxDelayMs: 60_000 },
        logger: (o.logger ?? pino({ level: 'silent' })).child({ queue: 'push-events' }),
        ...(o.notifier ? { notifier: o.notifier } : {}),
      },
    );
  }

  start(): Promise<void> {
    return this.queue.start();
  }

  async stop(graceMs = 0): Promise<void> {
    await this.queue.stop(graceMs);
    await this.echoLog.flush();
  }

  /** Sets the secret a registry sends with its events of this kind; answers it when hoist made it up. */
  async setSecret(
    actor: Actor,
    registry: string,
    kind: HookKind,
    secret?: string,
  ): Promise<{ registry: string; kind: HookKind; secret?: string }> {
    const chosen = secret ?? randomBytes(24).toString('base64url');
    if (chosen.length < 16) throw new InvalidInput('use a secret of at least 16 characters', 'secret');
    const r = await this.registries.row(registry);
    await audited(
      this.db,
      actor,
      { action: 'hook.secret', objectType: 'registry', objectId: registry },
      async (trx) => {
        await replaceHookSecret(trx, { registryId: r.id, kind, secretHash: hashSecret(chosen), at: new Date() });
        this.provenSecrets.clear();
        return { result: undefined, summary: { kind } };
      },
    );
    return secret === undefined ? { registry, kind, secret: chosen } : { registry, kind };
  }

  /** Which registry sent this, by its secret; anything else is refused before the body is looked at. */
  async authenticate(kind: HookKind, authorization: string | undefined): Promise<string> {
    const secret = secretFromHeader(authorization);
    if (secret === undefined)
      throw new Unauthenticated(
        `send the ${kind} hook secret in the Authorization header (set it with hoist registry set-hook-secret REGISTRY --kind ${kind})`,
      );
    const key = `${kind}:${hashSecret(secret)}`;
    const proven = this.provenSecrets.get(key);
    if (proven && proven.until > Date.now()) return proven.registryId;
    const registryId = await registryIdByHookSecret(this.db, kind, hashSecret(secret));
    if (registryId === undefined) throw new Unauthenticated(`no registry has this ${kind} hook secret`);
    if (this.provenSecrets.size >= 1000) this.provenSecrets.clear();
    this.provenSecrets.set(key, { registryId, until: Date.now() + HOOK_SECRET_TTL_MS });
    return registryId;
  }

  /**
   * Records events (each id once) and wakes the queue; answers how many were new. An event that reports the write
   * this process's runner is making, into the one environment holding the repository, is answered without a round
   * trip to the database and recorded IGNORED with the next batch (src/events/echo-log.ts): the registry sends its
   * notifications one at a time, and each waits for the answer to the last.
   */
  async receive(
    registryId: string,
    source: HookKind | 'poll' | 'trust',
    events: readonly PushEvent[],
  ): Promise<{ accepted: number; duplicates: number }> {
    const now = new Date();
    // One statement for the whole body; the same id twice in one body counts once.
    const rows = [...new Map(events.map((e) => [`${source}:${registryId}:${e.id}`, e])).entries()].map(([id, e]) => ({
      id,
      registry_id: registryId,
      source,
      repository: e.repository,
      tag: e.tag ?? null,
      digest: e.digest,
      state: 'PENDING' as const,
      run_after: now,
      received_at: now,
    }));
    const pushed = (r: (typeof rows)[number]) => ({
      registryId,
      repository: r.repository,
      digest: r.digest,
      tag: r.tag ?? undefined,
    });
    // The attestor's own referrer writes (src/events/referrer-writes.ts), known by their exact digest and tag.
    const attestations = rows.filter((r) => this.ownPushes.knownReferrer(pushed(r)));
    const echoes = rows.filter(
      (r) =>
        !attestations.includes(r) &&
        (r.tag === null || !REFERRERS_TAG.test(r.tag)) &&
        this.ownPushes.knownEcho(pushed(r)),
    );
    if (echoes.length > 0) this.echoLog.add(echoes, now);
    if (attestations.length > 0) this.echoLog.add(attestations, now, REFERRER_ECHO_OUTCOME);
    echoes.push(...attestations);
    const accepted = await insertPushEvents(
      this.db,
      echoes.length === 0 ? rows : rows.filter((r) => !echoes.includes(r)),
    );
    if (accepted > 0) this.queue.notify();
    return { accepted: accepted + echoes.length, duplicates: events.length - accepted - echoes.length };
  }

  /** Forgets finished events older than `days` (their effects are in artifacts, promotions and the audit log). */
  async prune(days = 30, now = new Date()): Promise<number> {
    return deletePushEvents(this.db, ['DONE', 'IGNORED', 'FAILED'], new Date(now.getTime() - days * 86_400_000));
  }

  /**
   * Newest first, a page at a time (`cursor`: the nextCursor of the previous page); with `visibleTo` (project
   * names), only events in those projects' namespaces.
   */
  async list(
    page: { limit?: number; cursor?: string } = {},
    visibleTo?: readonly string[],
  ): Promise<Page<PushEventView>> {
    const projectIds = visibleTo === undefined ? undefined : await projectIdsNamed(this.db, visibleTo);
    const { rows, nextCursor } = await listPushEvents(this.db, { ...page, projectIds });
    const items = rows.map((r) => ({
      id: r.id,
      registry: r.registry,
      source: r.source,
      repository: r.repository,
      tag: r.tag,
      digest: r.digest,
      state: r.state,
      outcome: r.outcome,
      receivedAt: r.received_at.toISOString(),
      doneAt: r.done_at?.toISOString() ?? null,
    }));
    return { items, nextCursor };
  }

  /** Works one due event; answers whether there was one. */
  processOne(): Promise<boolean> {
    return this.queue.runOne();
  }

  private async process(job: Job): Promise<void> {
    const e = pushedBy(job.row) ?? (await getPushEvent(this.db, job.id));
    // Both at once: an echo is rarely found here now (most are recognised at the hook), and the registry is needed
    // next (read once for the event: its confirmation and the artifact's record use this row).
    const [echo, registry] = await Promise.all([
      this.echo(e.registry_id, e.repository, e.tag ?? undefined, e.digest),
      findRegistryById(this.db, e.registry_id),
    ]);
    if (echo) {
      await settleJob(this.db, PUSH_EVENT_JOBS, job, {
        state: 'IGNORED',
        outcome: 'nothing new: hoist recorded this image here already (its own promotion, reported back)',
        done_at: new Date(),
      });
      return;
    }
    if (registry === undefined) throw new NotFound('registry', e.registry_id);
    const result = await this.work(registry, e.repository, e.tag ?? undefined, e.digest, job.signal);
    // A referrer pushed right after its image: the image's own event may still be recording it (its referrers read
    // before this one existed). Worked again once that event is done, not dropped: the report or signature counts.
    const { subject } = result;
    if (
      subject !== undefined &&
      ageOf(job) < SUBJECT_WAIT_FOR_MS &&
      (await digestInFlight(this.db, { registryId: e.registry_id, digest: subject, except: job.id }))
    ) {
      await requeueJob(this.db, PUSH_EVENT_JOBS, job, {
        runAfter: new Date(Date.now() + SUBJECT_WAIT_MS),
        message: `waiting for the event of its subject ${subject} to be worked first`,
        countAttempt: false,
      });
      return;
    }
    await settleJob(this.db, PUSH_EVENT_JOBS, job, {
      state: result.state,
      outcome: result.outcome,
      done_at: new Date(),
    });
  }

  /** Whether the event reports what hoist recorded already (./own-pushes.ts): one query, no registry round trip. */
  private async echo(registryId: string, repository: string, tag: string | undefined, digest: string) {
    if (tag !== undefined && REFERRERS_TAG.test(tag)) return false;
    const pushed = { registryId, repository, digest, tag };
    const recentSince = new Date(Date.now() - RECENT_MS);
    return this.ownPushes.echo(pushed, await holdingsOfDigest(this.db, registryId, digest, tag, recentSince));
  }

  private async work(
    registry: RegistryRow,
    repository: string,
    tag: string | undefined,
    digest: string,
    signal?: AbortSignal,
  ): Promise<{ state: PushEventState; outcome: string; subject?: string }> {
    // The referrers tag fallback (`sha256-<hex>`) names the image whose referrers changed; its index is no image.
    // So do older cosign's signature and attestation tags (`sha256-<hex>.sig`, `.att`).
    const fallback = REFERRERS_TAG.exec(tag ?? '');
    let subject: string | undefined;
    let manifest: FetchedManifest | undefined;
    if (fallback) {
      subject = `${fallback[1]}:${fallback[2]}`;
      // The registry's event for the tag is sent before the tag is linked (as for any tag): refreshing before the
      // registry says the tag names this index would read the referrers as they were, and a report or signature just
      // pushed would be lost. hoist's own requests to read a digest's referrers again (trust roots changed) name the
      // digest itself, which no index can be: nothing to confirm there.
      if (digest !== subject) {
        const confirmed = await this.confirm(registry, repository, tag, digest, signal);
        if ('unconfirmed' in confirmed) return { state: 'IGNORED', outcome: confirmed.unconfirmed };
      }
    } else {
      const confirmed = await this.confirm(registry, repository, tag, digest, signal);
      if ('unconfirmed' in confirmed) return { state: 'IGNORED', outcome: confirmed.unconfirmed };
      manifest = confirmed;
      subject = parseManifest(confirmed.bytes, confirmed.mediaType, `${repository}@${digest}`).subject?.digest;
    }
    if (subject !== undefined) {
      const touched = await this.artifacts.refreshReferrers(subject);
      if (touched.length === 0)
        return { state: 'IGNORED', outcome: `a referrer of ${subject}, which is no artifact`, subject };
      await this.automation.consider(touched);
      return { state: 'DONE', outcome: `a referrer of ${subject}: ${touched.length} artifact(s) refreshed` };
    }
    // A push by digest alone registers nothing new: a multi-platform image's platform manifests (and a copy's staged
    // manifests) arrive so before their index is tagged, and would otherwise become artifacts of their own that the
    // board shows as what an environment holds. It still records where a registered image now is.
    // The registry's row and the manifest just confirmed are not read again.
    const pushed = await this.artifacts.recordPush(registry.id, repository, tag, digest, undefined, undefined, {
      registerNew: tag !== undefined,
      registry,
      ...(manifest ? { manifest } : {}),
    });
    if (pushed.length === 0)
      return {
        state: 'IGNORED',
        outcome:
          tag === undefined
            ? `${repository}@${digest} was pushed by digest only (a platform manifest of a multi-platform image, or not tagged yet): hoist registers an image when a tag names it (or by hoist artifact register)`
            : `no environment holds ${repository}:${tag}`,
      };
    const fired = await this.automation.arrived(
      pushed.map((p) => ({
        artifactId: p.artifactId,
        environments: p.environments,
        ...(tag ? { tag } : {}),
      })),
    );
    return {
      state: 'DONE',
      outcome: `${pushed.map((p) => `${p.project}/${p.application}${p.created ? ' (new)' : ''}`).join(', ')}; ${fired} promotion(s) opened`,
    };
  }

  /**
   * The pushed manifest as the registry holds it now, or why the registry does not confirm the event: the tag must
   * name the event's digest there now (the digest must exist, for an event without a tag). A sender with the right
   * secret may still be wrong — late (the tag moved since), or lying — and hoist acts on what the registry holds, never
   * on what it was told. distribution sends its event after storing the manifest but before linking the tag, so a tag
   * is asked for a few times over about two seconds, soon at first, before the event is judged unconfirmed. One GET
   * answers both whether the tag names the digest and what the manifest is (a referrer names its subject).
   */
  private async confirm(
    registry: RegistryRow,
    repository: string,
    tag: string | undefined,
    digest: string,
    signal?: AbortSignal,
  ): Promise<FetchedManifest | { unconfirmed: string }> {
    const repo = openRepository(this.registries.openRow(registry), repository);
    const named = tag === undefined ? `${repository}@${digest}` : `${repository}:${tag}`;
    let reason = `not confirmed by the registry: ${named} does not exist in the registry`;
    for (const pause of CONFIRM_PAUSES_MS) {
      if (pause > 0) await sleep(pause, undefined, { signal });
      const m = await repo.getManifest(tag ?? digest, signal).catch((e: unknown) => {
        if (e instanceof RegistryError && e.status === 404) return undefined;
        throw e;
      });
      if (m?.digest === digest) return m;
      if (m)
        reason = `not confirmed by the registry: ${named} is ${m.digest} in the registry, not ${digest} (moved since the event, or never so)`;
    }
    return { unconfirmed: reason };
  }
}
