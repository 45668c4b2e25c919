/**
 * Authorization for one registry host. The scheme is learnt from the first 401 (`WWW-Authenticate`): Basic sends the
 * credentials; Bearer fetches a token from the realm for the scope set a request needs and caches it per scope set
 * until shortly before it expires (at most MAX_TOKENS scope sets, the oldest dropped first). A 401 on a cached token drops it and fetches a fresh one once; two requests
 * needing the same token share one fetch.
 */
import { RegistryError } from '../errors.ts';
import { parseChallenge } from './auth-challenge.ts';
import type { Credentials } from './credentials.ts';

export interface TokenResponse {
  token: string;
  expiresInSeconds: number;
}

/** Fetches a bearer token: GET realm?service=&scope=... with Basic credentials when there are some. */
export type TokenFetcher = (
  url: string,
  headers: Record<string, string>,
  signal?: AbortSignal,
) => Promise<TokenResponse>;

type Scheme =
  { kind: 'unknown' } | { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; realm: string; service?: string };

const EXPIRY_MARGIN_MS = 10_000;
/**
 * Tokens kept per host: a long-running server promotes into many repositories, each its own scope set; past this,
 * expired tokens are dropped, then the oldest.
 */
const MAX_TOKENS = 512;

export class Authenticator {
  private scheme: Scheme = { kind: 'unknown' };
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();
  tokenFetches = 0;

  constructor(
    private readonly host: string,
    private readonly credentials: Credentials | undefined,
    private readonly fetchToken: TokenFetcher,
  ) {}

  private basicHeader(): string | undefined {
    if (!this.credentials) return undefined;
    return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
  }

  /** The Authorization header for a request needing `scopes`, or undefined while no challenge has been seen. */
  async header(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    switch (this.scheme.kind) {
      case 'unknown':
      case 'none':
        return undefined;
      case 'basic':
        return this.basicHeader();
      case 'bearer':
        return `Bearer ${await this.token(this.scheme, scopes, signal)}`;
    }
  }

  /**
   * Learns from a 401. Returns true when sending the request again with a new header can succeed (a scheme learnt
   * now, or a bearer token to refresh); false when it cannot (wrong or missing credentials).
   */
  unauthorized(
    wwwAuthenticate: string | undefined,
    scopes: readonly string[],
    sentHeader: string | undefined,
  ): boolean {
    const challenge = parseChallenge(wwwAuthenticate ?? '');
    if (challenge.scheme === 'bearer' && challenge.params.realm) {
      const next: Scheme = { kind: 'bearer', realm: challenge.params.realm };
      if (challenge.params.service !== undefined) next.service = challenge.params.service;
      const wasBearer = this.scheme.kind === 'bearer';
      this.scheme = next;
      if (!sentHeader?.startsWith('Bearer ')) return true;
      // A token we sent was refused: drop it so the retry fetches a fresh one, once.
      const key = scopeKey(scopes);
      const had = this.tokens.delete(key);
      return had || !wasBearer;
    }
    if (challenge.scheme === 'basic') {
      this.scheme = { kind: 'basic' };
      return sentHeader === undefined && this.credentials !== undefined;
    }
    return false;
  }

  private async token(
    scheme: { realm: string; service?: string },
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<string> {
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return cached.token;
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetch(scheme, scopes, signal).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async fetch(
    scheme: { realm: string; service?: string },
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<string> {
    const url = new URL(scheme.realm);
    if (scheme.service !== undefined) url.searchParams.set('service', scheme.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    const basic = this.basicHeader();
    if (basic) headers.authorization = basic;
    this.tokenFetches++;
    let res: TokenResponse;
    try {
      res = await this.fetchToken(url.toString(), headers, signal);
    } catch (e) {
      if (e instanceof RegistryError && e.status === 401) {
        throw new RegistryError(`token request to ${url.origin}${url.pathname} for ${this.host}`, 401, [
          {
            code: 'UNAUTHORIZED',
            message: this.credentials
              ? `credentials for user "${this.credentials.username}" were refused`
              : 'credentials are required',
          },
        ]);
      }
      throw e;
    }
    this.keep(scopeKey(scopes), { token: res.token, expiresAt: Date.now() + res.expiresInSeconds * 1000 });
    return res.token;
  }

  private keep(key: string, token: { token: string; expiresAt: number }): void {
    this.tokens.delete(key);
    if (this.tokens.size >= MAX_TOKENS) {
      const now = Date.now();
      for (const [k, t] of this.tokens) if (t.expiresAt - EXPIRY_MARGIN_MS <= now) this.tokens.delete(k);
      for (const k of this.tokens.keys()) {
        if (this.tokens.size < MAX_TOKENS) break;
        this.tokens.delete(k);
      }
    }
    this.tokens.set(key, token);
  }
}

function scopeKey(scopes: readonly string[]): string {
  return scopes.join(' ');
}
