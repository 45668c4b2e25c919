/**
 * Who a credential belongs to, kept for a few seconds: every API request asks it first, and it was the costliest
 * statement of a simple GET (a join with the user's memberships; about two thirds of the embedded database's work for
 * `GET /api/v1/projects`, measured with `npm run bench:load`).
 *
 * Kept answers never outlive what they were made of:
 * - Any change to tokens, sessions, users, memberships or project names, by any replica or by hand, sends
 *   `NOTIFY hoist_identity` on commit (migration 0029); every replica forgets everything it kept when it hears it.
 *   The embedded database delivers it before the committing statement's answer, so there the change is seen at once.
 * - On PostgreSQL the notification reaches this replica's listener a moment after the commit: a change made through
 *   this replica (any request that is not a GET) also forgets everything before its answer is sent, so the caller's
 *   next request sees it. Other replicas see it when the notification arrives (milliseconds).
 * - While the PostgreSQL listener is reconnecting (notifications would be lost), nothing is kept or used.
 * - A token or session is never used past its expiry; an answer is asked again after TTL_MS at most (which also keeps
 *   the once-a-minute write of a token's last use going), and an answer read while a change was being made is not
 *   kept (the generation check below).
 * - Unknown credentials are not kept: a wrong or revoked token always asks the database.
 * - Requests with the same credential asking at once share one question to the database (under load, 50 connections
 *   of one client all missed together after each forgetting, and asked 50 times); only a question asked since the
 *   last forgetting is shared, so a request never gets an answer older than a change it could know of.
 * Keys are SHA-256 hashes of the secrets, so the memory holds no credential.
 */
import { createHash } from 'node:crypto';
import { IDENTITY_CHANNEL } from '../store/migrations/0029-identity-changes.ts';
import type { Notifier } from '../store/notifier.ts';
import type { Identity } from '../service/identity.ts';

export type Credential = { token: string } | { session: string };
export type KnownIdentity = Identity & { csrfToken?: string; expiresAt: Date | null };

export interface IdentityCacheOptions {
  /** How long an answer is kept at most (default TTL_MS). */
  ttlMs?: number;
  /** At most this many answers; past it, all are forgotten (default MAX_ENTRIES). */
  maxEntries?: number;
  now?: () => number;
}

const TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

interface Entry {
  identity: KnownIdentity;
  /** Milliseconds since the epoch after which the entry is not used: the TTL or the credential's expiry. */
  until: number;
}

export class IdentityCache {
  readonly #identify: (credential: Credential) => Promise<KnownIdentity | undefined>;
  readonly #notifier: Notifier;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  /** Questions to the database under way, by key, asked since the last forgetting. */
  readonly #asking = new Map<string, Promise<KnownIdentity | undefined>>();
  /** Counts the forgettings: an answer asked before one and received after it may be stale, and is not kept. */
  #generation = 0;
  #subscribed = false;
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    identify: (credential: Credential) => Promise<KnownIdentity | undefined>,
    notifier: Notifier,
    o: IdentityCacheOptions = {},
  ) {
    this.#identify = identify;
    this.#notifier = notifier;
    this.#ttlMs = o.ttlMs ?? TTL_MS;
    this.#maxEntries = o.maxEntries ?? MAX_ENTRIES;
    this.#now = o.now ?? Date.now;
  }

  /** Listens for identity changes; until this has answered, nothing is kept. */
  async start(): Promise<void> {
    this.#unsubscribe = await this.#notifier.subscribe(IDENTITY_CHANNEL, () => this.forget());
    this.#subscribed = true;
  }

  async stop(): Promise<void> {
    this.#subscribed = false;
    this.forget();
    await this.#unsubscribe?.();
  }

  /** Forgets every kept answer (an identity changed, or may have). */
  forget(): void {
    this.#generation++;
    this.#entries.clear();
    this.#asking.clear();
  }

  /** Who `credential` belongs to: a kept answer when it is still good, else the database's. */
  async identify(credential: Credential): Promise<KnownIdentity | undefined> {
    const usable = this.#subscribed && this.#notifier.listening();
    if (!usable) {
      if (this.#entries.size > 0) this.forget();
      return this.#identify(credential);
    }
    const key = keyOf(credential);
    const now = this.#now();
    const kept = this.#entries.get(key);
    // A copy: a request's identity is its own.
    if (kept !== undefined && now < kept.until) return { ...kept.identity };
    if (kept !== undefined) this.#entries.delete(key);
    const asked = this.#asking.get(key);
    if (asked !== undefined) {
      const shared = await asked;
      return shared && { ...shared };
    }
    const generation = this.#generation;
    const answer = this.#identify(credential);
    this.#asking.set(key, answer);
    let identity: KnownIdentity | undefined;
    try {
      identity = await answer;
    } finally {
      if (this.#asking.get(key) === answer) this.#asking.delete(key);
    }
    if (identity === undefined || generation !== this.#generation || !this.#notifier.listening()) return identity;
    const until = Math.min(now + this.#ttlMs, identity.expiresAt?.getTime() ?? Infinity);
    if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
    this.#entries.set(key, { identity, until });
    return identity;
  }

  /** How many answers are kept (tests). */
  get size(): number {
    return this.#entries.size;
  }
}

const keyOf = (credential: Credential): string =>
  createHash('sha256')
    .update('token' in credential ? `t:${credential.token}` : `s:${credential.session}`)
    .digest('base64');
