/**
 * Single sign-on with OpenID Connect (authorization code + PKCE S256, through openid-client): the provider an admin
 * configured, the start of a sign-in (state, nonce and PKCE verifier kept in the database, single use and minutes
 * long, bound to a cookie of the browser that started it), and its end (openid-client checks state, issuer, the code
 * exchange with the verifier, the ID token's signature, audience, expiry and nonce). The user is found by issuer +
 * subject (created on first sign-in, with no password), their SSO-derived memberships are replaced by what the groups
 * claim gives now (those an admin granted stay), and the sign-in is audited. Every connection to the provider goes
 * through the outbound policy.
 *
 * `hoist login --sso` uses the same flow (RFC 8252 loopback redirect): the CLI passes its 127.0.0.1 URL and a PKCE
 * challenge of its own; after the callback the browser is sent there with a one-time code that only the holder of
 * the CLI's verifier can trade for an API token. The provider sees one client and one redirect URI either way.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { Kysely } from 'kysely';
import * as oidc from 'openid-client';
import { HoistError, InvalidInput, NotFound, TooManyRequests, Unauthenticated } from '../errors.ts';
import { checkOutboundUrl, type OutboundPolicy } from '../net/outbound-policy.ts';
import type { Schema } from '../store/schema.ts';
import {
  countSsoFlows,
  deleteSsoConfig,
  getSsoConfig,
  insertCliCode,
  insertSsoFlow,
  putSsoConfig,
  takeCliCode,
  takeSsoFlow,
  type SsoConfigRow,
  type SsoFlowRow,
} from '../store/sso.repository.ts';
import type { Accounts } from './accounts.service.ts';
import { audited, type Actor } from './audited.ts';
import { guardedFetch, type GuardedFetch } from './guarded-fetch.ts';
import type { SecretBox } from './secret-box.ts';
import { formatGroupRole, parseGroupRole, type GroupRole } from './sso-mapping.ts';
import { signInExternalUser } from './sso-sign-in.ts';
import { checkCliRedirect, safeReturnTo } from './sso-urls.ts';
import { hashSecret } from './tokens.ts';

/** How long a sign-in may take at the provider, and a CLI's one-time code may wait. */
export const SSO_FLOW_TTL_MS = 10 * 60_000;
export const SSO_CLI_CODE_TTL_MS = 60_000;
const DISCOVERY_TTL_MS = 10 * 60_000;
/** Sign-ins in flight at once: each is a row until its callback or its expiry, and anyone may start one. */
export const SSO_MAX_FLOWS = 10_000;

/**
 * A sign-in that did not end in a session: the reason is shown to the person on the sign-in page (or to the CLI).
 * Once the flow is known, it says where that person was going.
 */
export class SsoRefused extends Unauthenticated {
  returnTo?: string;
  cliRedirect?: string;

  /** `e` as a refusal of this flow (a message a person can read, where to send them). */
  static within(e: unknown, flow: { return_to: string; cli_redirect: string | null }): SsoRefused {
    const refused =
      e instanceof SsoRefused
        ? e
        : new SsoRefused(e instanceof HoistError ? e.message : `sign-in failed: ${describe(e)}`);
    refused.returnTo = flow.return_to;
    if (flow.cli_redirect !== null) refused.cliRedirect = flow.cli_redirect;
    return refused;
  }
}

export interface SsoInput {
  issuer: string;
  clientId: string;
  /** undefined keeps the stored secret, null removes it (a public client with PKCE only). */
  clientSecret?: string | null | undefined;
  displayName?: string | undefined;
  scopes?: string[] | undefined;
  groupsClaim?: string | undefined;
  /** `group:project:role`, or `group:*:admin`. */
  groupRoles: string[];
}

export interface SsoView {
  issuer: string;
  clientId: string;
  hasSecret: boolean;
  displayName: string;
  scopes: string[];
  groupsClaim: string;
  groupRoles: string[];
  updatedBy: string;
  updatedAt: string;
}

const view = (r: SsoConfigRow): SsoView => ({
  issuer: r.issuer,
  clientId: r.client_id,
  hasSecret: r.secret_enc !== null,
  displayName: r.display_name,
  scopes: r.scopes.split(' '),
  groupsClaim: r.groups_claim,
  groupRoles: r.group_roles.map((m) => formatGroupRole(m as GroupRole)),
  updatedBy: r.updated_by,
  updatedAt: r.updated_at.toISOString(),
});

/** What the audit entry records of a configuration: all of the view (no secret in it) but who changed it when. */
const auditView = ({ updatedAt: _at, updatedBy: _by, ...rest }: SsoView) => rest;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');
const isLoopback = (host: string): boolean => {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
};

export interface SignInResult {
  username: string;
  /** Who signed in (a browser flow gets a session for them). */
  userId: string;
  returnTo: string;
  /** For a CLI flow: where to send the browser, with the one-time code. */
  cliRedirect?: string;
}

export class SingleSignOn {
  private readonly fetch: GuardedFetch;
  private cached: { key: string; at: number; config: Promise<oidc.Configuration> } | undefined;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly box: SecretBox,
    private readonly accounts: Accounts,
    private readonly outbound: OutboundPolicy,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.fetch = guardedFetch(outbound);
  }

  /** What the sign-in page needs: whether SSO is on and the provider's name. */
  async status(): Promise<{ enabled: boolean; displayName: string | null }> {
    const row = await getSsoConfig(this.db);
    return { enabled: row !== undefined, displayName: row?.display_name ?? null };
  }

  async get(): Promise<SsoView> {
    const row = await getSsoConfig(this.db);
    if (!row) throw new NotFound('single sign-on configuration', 'sso', 'set one with hoist sso set');
    return view(row);
  }

  /** Checks the input, asks the provider's discovery document (so a wrong issuer is refused now), stores, audits. */
  async put(actor: Actor, input: SsoInput): Promise<SsoView> {
    const issuer = this.checkIssuer(input.issuer);
    if (!/^[\x21-\x7e]{1,255}$/.test(input.clientId)) throw new InvalidInput('1-255 visible characters', 'clientId');
    const scopes = input.scopes ?? ['openid', 'profile', 'email'];
    if (!scopes.includes('openid')) throw new InvalidInput('must include "openid"', 'scopes');
    if (scopes.some((s) => !/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(s)))
      throw new InvalidInput('scope names are visible characters without quotes or backslashes', 'scopes');
    const groupsClaim = input.groupsClaim ?? 'groups';
    if (!/^[\w.:/-]{1,128}$/.test(groupsClaim)) throw new InvalidInput('a claim name', 'groupsClaim');
    const mappings: GroupRole[] = [];
    for (const text of input.groupRoles) {
      const parsed = parseGroupRole(text);
      if (!parsed.ok) throw new InvalidInput(parsed.error, 'groupRoles');
      mappings.push(parsed.value);
    }
    const displayName = input.displayName ?? new URL(issuer).hostname;
    if (displayName.length < 1 || displayName.length > 64) throw new InvalidInput('1-64 characters', 'displayName');
    const existing = await getSsoConfig(this.db);
    const secret =
      input.clientSecret === undefined
        ? (existing?.secret_enc ?? null)
        : input.clientSecret === null
          ? null
          : this.box.seal(input.clientSecret);
    const row = {
      id: 'default' as const,
      issuer,
      client_id: input.clientId,
      secret_enc: secret,
      display_name: displayName,
      scopes: scopes.join(' '),
      groups_claim: groupsClaim,
      group_roles: JSON.stringify(mappings),
      updated_by: actor.username,
      updated_at: this.now(),
    };
    await this.discover({ ...row, group_roles: mappings }).catch((e: unknown) => {
      throw new InvalidInput(`the provider's discovery document: ${describe(e)}`, 'issuer');
    });
    const after = view({ ...row, group_roles: mappings });
    return audited(this.db, actor, { action: 'sso.configure', objectType: 'sso', objectId: issuer }, async (trx) => {
      await putSsoConfig(trx, row);
      return {
        result: after,
        summary: { before: existing ? auditView(view(existing)) : null, after: auditView(after) },
      };
    });
  }

  async remove(actor: Actor): Promise<void> {
    const existing = await getSsoConfig(this.db);
    if (!existing) throw new NotFound('single sign-on configuration', 'sso');
    await audited(
      this.db,
      actor,
      { action: 'sso.remove', objectType: 'sso', objectId: existing.issuer },
      async (trx) => {
        await deleteSsoConfig(trx);
        return { result: undefined, summary: { before: { issuer: existing.issuer, clientId: existing.client_id } } };
      },
    );
    this.cached = undefined;
  }

  /**
   * Starts a sign-in: answers the provider's authorization URL and the browser-binding secret (the caller's existing
   * one, or a new one to set as a cookie).
   */
  async start(o: {
    returnTo?: string | undefined;
    redirectUri: string;
    binding?: string | undefined;
    cli?: { redirect: string; challenge: string } | undefined;
  }): Promise<{ url: string; binding: string }> {
    const returnTo = safeReturnTo(o.returnTo);
    const cli = o.cli && { redirect: checkCliRedirect(o.cli.redirect), challenge: o.cli.challenge };
    if (cli && !/^[\w-]{43}$/.test(cli.challenge))
      throw new InvalidInput('a PKCE S256 challenge (43 base64url characters)', 'challenge');
    const row = await getSsoConfig(this.db);
    if (!row) throw new NotFound('single sign-on configuration', 'sso', 'an admin sets one with hoist sso set');
    const config = await this.discover(row).catch((e: unknown) => {
      throw new SsoRefused(`${row.display_name} cannot be reached: ${describe(e)}`);
    });
    if ((await countSsoFlows(this.db, this.now())) >= SSO_MAX_FLOWS)
      throw new TooManyRequests('too many sign-ins are in progress; try again in a few minutes', 60);
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    const binding =
      o.binding !== undefined && /^[\w-]{43}$/.test(o.binding) ? o.binding : randomBytes(32).toString('base64url');
    const now = this.now();
    await insertSsoFlow(
      this.db,
      {
        state_hash: sha256(state),
        binding_hash: sha256(binding),
        nonce,
        code_verifier: verifier,
        return_to: returnTo,
        redirect_uri: o.redirectUri,
        cli_redirect: cli?.redirect ?? null,
        cli_challenge: cli?.challenge ?? null,
        created_at: now,
        expires_at: new Date(now.getTime() + SSO_FLOW_TTL_MS),
      },
      now,
    );
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: o.redirectUri,
      scope: row.scopes,
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, binding };
  }

  /**
   * Ends a sign-in from the provider's redirect (`query`: the callback's query string). Refuses, with a reason a
   * person can act on, a state that is unknown, used or expired, a flow started in another browser, an error from
   * the provider, or an answer that does not verify.
   */
  async finish(o: { query: string; binding: string | undefined; requestId?: string }): Promise<SignInResult> {
    const params = new URLSearchParams(o.query);
    const state = params.get('state');
    const flow = state === null ? undefined : await takeSsoFlow(this.db, sha256(state));
    if (!flow || flow.expires_at.getTime() <= this.now().getTime())
      throw new SsoRefused('this sign-in link was used already or has expired; start the sign-in again');
    try {
      return await this.finishFlow(flow, params, o.binding, o.requestId ?? null);
    } catch (e) {
      throw SsoRefused.within(e, flow);
    }
  }

  private async finishFlow(
    flow: SsoFlowRow,
    params: URLSearchParams,
    binding: string | undefined,
    requestId: string | null,
  ): Promise<SignInResult> {
    if (binding === undefined || sha256(binding) !== flow.binding_hash)
      throw new SsoRefused('this sign-in was started in another browser; start it again here');
    const row = await getSsoConfig(this.db);
    if (!row) throw new SsoRefused('single sign-on is no longer configured');
    const providerError = params.get('error');
    if (providerError !== null) {
      const why = params.get('error_description');
      throw new SsoRefused(`${row.display_name} refused the sign-in: ${providerError}${why ? ` (${why})` : ''}`);
    }
    const config = await this.discover(row).catch((e: unknown) => {
      throw new SsoRefused(`${row.display_name} cannot be reached: ${describe(e)}`);
    });
    const claims = await this.verify(config, row, flow, params);
    const user = await signInExternalUser(this.db, row, claims, this.now(), {
      via: flow.cli_redirect !== null ? 'cli' : 'browser',
      requestId,
    });
    const result: SignInResult = { username: user.username, userId: user.id, returnTo: flow.return_to };
    if (flow.cli_redirect !== null && flow.cli_challenge !== null) {
      const code = randomBytes(32).toString('base64url');
      const now = this.now();
      await insertCliCode(
        this.db,
        {
          code_hash: hashSecret(code),
          user_id: user.id,
          challenge: flow.cli_challenge,
          created_at: now,
          expires_at: new Date(now.getTime() + SSO_CLI_CODE_TTL_MS),
        },
        now,
      );
      const to = new URL(flow.cli_redirect);
      to.searchParams.set('code', code);
      result.cliRedirect = to.href;
    }
    return result;
  }

  /** Where the CLI's sign-in failed: its loopback URL with the reason, when the flow was the CLI's. */
  static cliError(cliRedirect: string, message: string): string {
    const to = new URL(cliRedirect);
    to.searchParams.set('error', message);
    return to.href;
  }

  /** Trades a CLI's one-time code and its PKCE verifier for an API token (90 days). */
  async cliToken(
    code: string,
    verifier: string,
    name: string,
  ): Promise<{ username: string; token: string; name: string; expiresAt: Date | null }> {
    const row = await takeCliCode(this.db, hashSecret(code));
    if (!row || row.expires_at.getTime() <= this.now().getTime())
      throw new Unauthenticated('this sign-in code was used already or has expired; run hoist login --sso again');
    if (sha256(verifier) !== row.challenge) throw new Unauthenticated('the code verifier does not match this sign-in');
    const user = await this.db
      .selectFrom('users')
      .select(['id', 'username', 'disabled'])
      .where('id', '=', row.user_id)
      .executeTakeFirst();
    if (!user || user.disabled) throw new Unauthenticated('this account is disabled');
    const t = await this.accounts.createToken({ userId: user.id, username: user.username }, name, 90);
    return { username: user.username, token: t.token, name: t.name, expiresAt: t.expiresAt };
  }

  private checkIssuer(raw: string): string {
    const checked = checkOutboundUrl(raw, 'openid', this.outbound);
    if (!checked.ok) throw new InvalidInput(checked.message, 'issuer');
    const url = checked.url;
    if (url.protocol === 'http:' && !isLoopback(url.hostname))
      throw new InvalidInput('the issuer must be https (plain http only on loopback, for testing)', 'issuer');
    if (url.search !== '' || url.hash !== '')
      throw new InvalidInput('an issuer URL has no query or fragment', 'issuer');
    if (raw.length > 512) throw new InvalidInput('at most 512 characters', 'issuer');
    return raw;
  }

  /** The provider's configuration from its discovery document, cached for a few minutes per configuration. */
  private discover(row: Omit<SsoConfigRow, 'group_roles'> & { group_roles: unknown }): Promise<oidc.Configuration> {
    const key = `${row.issuer}\n${row.client_id}\n${row.secret_enc ?? ''}`;
    const now = Date.now();
    if (this.cached && this.cached.key === key && now - this.cached.at < DISCOVERY_TTL_MS) return this.cached.config;
    const insecure = new URL(row.issuer).protocol === 'http:';
    const config = (async () => {
      const secret = row.secret_enc === null ? undefined : this.openSecret(row.secret_enc);
      const found = await oidc.discovery(new URL(row.issuer), row.client_id, undefined, oidc.None(), {
        [oidc.customFetch]: this.fetch as oidc.CustomFetch,
        timeout: 10,
        ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      const metadata = found.serverMetadata();
      const methods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
      const auth =
        secret === undefined
          ? oidc.None()
          : methods.includes('client_secret_basic')
            ? oidc.ClientSecretBasic(secret)
            : oidc.ClientSecretPost(secret);
      const configured = new oidc.Configuration(metadata, row.client_id, secret, auth);
      configured[oidc.customFetch] = this.fetch as oidc.CustomFetch;
      configured.timeout = 10;
      if (insecure) oidc.allowInsecureRequests(configured);
      return configured;
    })();
    this.cached = { key, at: now, config };
    config.catch(() => {
      if (this.cached?.config === config) this.cached = undefined;
    });
    return config;
  }

  private openSecret(sealed: string): string {
    try {
      return this.box.open(sealed);
    } catch {
      throw new Error(
        "the stored client secret cannot be opened with this server's key (HOIST_SECRET_KEY changed?); set it again",
      );
    }
  }

  /** The code exchange and the ID token's checks (openid-client), then the user's claims (userinfo if needed). */
  private async verify(
    config: oidc.Configuration,
    row: SsoConfigRow,
    flow: { redirect_uri: string; code_verifier: string; nonce: string },
    params: URLSearchParams,
  ): Promise<{ subject: string; claims: Record<string, unknown> }> {
    const current = new URL(flow.redirect_uri);
    current.search = params.toString();
    try {
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: flow.code_verifier,
        expectedState: params.get('state') ?? undefined,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const id = tokens.claims();
      if (!id) throw new SsoRefused(`${row.display_name} sent no ID token`);
      let claims: Record<string, unknown> = { ...id };
      if (claims[row.groups_claim] === undefined && config.serverMetadata().userinfo_endpoint !== undefined) {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, id.sub);
        claims = { ...info, ...id, [row.groups_claim]: info[row.groups_claim] };
      }
      return { subject: id.sub, claims };
    } catch (e) {
      if (e instanceof HoistError) throw e;
      throw new SsoRefused(`${row.display_name}'s answer did not verify: ${describe(e)}`);
    }
  }
}

function describe(e: unknown): string {
  if (e instanceof oidc.AuthorizationResponseError)
    return `${e.error}${e.error_description ? ` (${e.error_description})` : ''}`;
  if (e instanceof oidc.ResponseBodyError) return `${e.error}${e.error_description ? ` (${e.error_description})` : ''}`;
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return `${e.message}${cause}`;
  }
  return String(e);
}
