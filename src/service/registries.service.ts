/**
 * Registries hoist copies between: a name, where it is (host[:port]), whether it speaks plain HTTP, and credentials
 * sealed with the SecretBox. Answers never carry the secret, only whether there is one. "Test connection" asks the
 * registry itself: reachable, credentials accepted, referrers API present.
 */
import type { Kysely } from 'kysely';
import { Conflict, InvalidInput, NotFound, RegistryError } from '../errors.ts';
import type { RegistryHost } from '../oci/registry-client.ts';
import { Agent, registryIdleTimeoutMs } from '../oci/http.ts';
import { openHost } from '../oci/registry.ts';
import { outboundGuard } from '../net/guarded-lookup.ts';
import { checkOutboundUrl, OutboundPolicy } from '../net/outbound-policy.ts';
import {
  deleteRegistry,
  environmentsInRegistry,
  findRegistryByName,
  insertRegistry,
  listRegistries,
  updateRegistry,
  type RegistryAccess,
  type RegistryRow,
} from '../store/registries.repository.ts';
import type { Schema } from '../store/schema.ts';
import { audited, type Actor } from './audited.ts';
import type { SecretBox } from './secret-box.ts';
import { newId } from './tokens.ts';
import { NAME } from './names.ts';
import { toPage, type Page, type PageQuery } from './page.ts';

export interface RegistryInput {
  name: string;
  /** `host[:port]`, or a URL `https://host[:port]` / `http://host[:port]` (http means plain HTTP). */
  url: string;
  insecure?: boolean;
  username?: string | null;
  password?: string | null;
  /** Requests per second the poller may send (default 10). */
  pollBudget?: number;
}

export interface RegistryView {
  name: string;
  url: string;
  insecure: boolean;
  username: string | null;
  hasSecret: boolean;
  pollBudget: number;
  createdAt: string;
  updatedAt: string;
}

export interface ConnectionReport {
  reachable: boolean;
  auth: 'anonymous' | 'accepted' | 'refused' | 'not-checked';
  referrersApi: boolean | 'unknown';
  message: string;
}

/** `https://host:5000/` → { host: 'host:5000', insecure: false }. */
export function parseRegistryUrl(url: string, insecureFlag?: boolean): { host: string; insecure: boolean } {
  const m = /^(?:(https?):\/\/)?([^/\s]+?)\/?$/.exec(url.trim());
  if (!m || !/^[a-zA-Z0-9.-]+(?::\d{1,5})?$|^\[[0-9a-fA-F:]+\](?::\d{1,5})?$/.test(m[2] ?? '')) {
    throw new InvalidInput(`"${url}" is not a registry address (host[:port] or http(s)://host[:port])`, 'url');
  }
  return { host: m[2] as string, insecure: insecureFlag ?? m[1] === 'http' };
}

export function viewRegistry(r: RegistryRow): RegistryView {
  return {
    name: r.name,
    url: r.url,
    insecure: r.insecure,
    username: r.username,
    hasSecret: r.secret_enc !== null,
    pollBudget: r.poll_budget,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export class Registries {
  /** The connection pool every server-side registry request uses: each connection checked by the outbound policy. */
  readonly agent: Agent;
  /** One client per registry (its connections, tokens and learnt capabilities), until the registry row changes. */
  private readonly hosts = new Map<string, { key: string; host: RegistryHost }>();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly box: SecretBox,
    private readonly outbound: OutboundPolicy = new OutboundPolicy(),
  ) {
    this.agent = new Agent({
      connections: 32,
      idleTimeoutMs: registryIdleTimeoutMs(),
      guard: outboundGuard(outbound, 'registry'),
    });
  }

  async list(p: PageQuery = {}): Promise<Page<RegistryView>> {
    const rows = await listRegistries(this.db, p);
    return toPage(rows.map(viewRegistry), p, (r) => r.name);
  }

  async row(name: string): Promise<RegistryRow> {
    const r = await findRegistryByName(this.db, name);
    if (!r) throw new NotFound('registry', name);
    return r;
  }

  async get(name: string): Promise<RegistryView> {
    return viewRegistry(await this.row(name));
  }

  /** Creates or updates by name (the declarative `apply` uses this too); a password of null removes the secret. */
  async put(actor: Actor, input: RegistryInput, mode: 'create' | 'upsert'): Promise<RegistryView> {
    if (!NAME.test(input.name)) throw new InvalidInput('use 1-63 lower-case letters, digits and "-"', 'name');
    const { host, insecure } = parseRegistryUrl(input.url, input.insecure);
    const checked = checkOutboundUrl(`${insecure ? 'http' : 'https'}://${host}/`, 'registry', this.outbound);
    if (!checked.ok) throw new InvalidInput(checked.message, 'url');
    const existing = await findRegistryByName(this.db, input.name);
    if (existing && mode === 'create') throw new Conflict(`registry "${input.name}" exists already`);
    const now = new Date();
    const secret =
      input.password === undefined
        ? (existing?.secret_enc ?? null)
        : input.password === null
          ? null
          : this.box.seal(input.password);
    const username = input.username === undefined ? (existing?.username ?? null) : input.username;
    if (
      input.pollBudget !== undefined &&
      (!Number.isInteger(input.pollBudget) || input.pollBudget < 1 || input.pollBudget > 1000)
    )
      throw new InvalidInput('requests per second between 1 and 1000', 'pollBudget');
    const pollBudget = input.pollBudget ?? existing?.poll_budget ?? 10;
    const row = {
      id: existing?.id ?? newId(),
      name: input.name,
      url: host,
      insecure,
      username,
      secret_enc: secret,
      poll_budget: pollBudget,
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    return audited(
      this.db,
      actor,
      { action: existing ? 'registry.update' : 'registry.create', objectType: 'registry', objectId: input.name },
      async (trx) => {
        if (existing) await updateRegistry(trx, existing.id, row);
        else await insertRegistry(trx, row);
        const after = viewRegistry(row);
        return {
          result: after,
          summary: {
            before: existing ? viewRegistry(existing) : null,
            after,
            secretChanged: input.password !== undefined,
          },
        };
      },
    );
  }

  async remove(actor: Actor, name: string): Promise<void> {
    const r = await this.row(name);
    const used = await environmentsInRegistry(this.db, r.id);
    if (used.length > 0)
      throw new Conflict(`registry "${name}" is used by ${used.map((u) => `${u.project}/${u.env}`).join(', ')}`);
    await audited(
      this.db,
      actor,
      { action: 'registry.delete', objectType: 'registry', objectId: name },
      async (trx) => {
        await deleteRegistry(trx, r.id);
        return { result: undefined, summary: { before: viewRegistry(r) } };
      },
    );
  }

  /** Credentials for talking to the registry (for copies and the connection test). */
  async credentials(
    name: string,
  ): Promise<{ host: string; insecure: boolean; agent: Agent; credentials?: { username: string; password: string } }> {
    const r = await this.row(name);
    const out: { host: string; insecure: boolean; agent: Agent; credentials?: { username: string; password: string } } =
      { host: r.url, insecure: r.insecure, agent: this.agent };
    if (r.username !== null && r.secret_enc !== null)
      out.credentials = { username: r.username, password: this.box.open(r.secret_enc) };
    return out;
  }

  /**
   * The client for the registry with its stored credentials, kept while the registry is unchanged: its token cache
   * and referrers capability serve every promotion, not one. Any change of the row (on any replica) makes a new one.
   */
  async open(name: string): Promise<RegistryHost> {
    return this.openRow(await this.row(name));
  }

  /**
   * As `open`, for a registry row the caller read already (the promotion runner and the attestor read it with their
   * job, in the same statement): the row decides which client, so a changed registry still gets a new one.
   */
  openRow(r: RegistryAccess): RegistryHost {
    const name = r.name;
    const key = `${r.id}|${r.url}|${r.insecure}|${r.username ?? ''}|${r.secret_enc ?? ''}|${r.updated_at.getTime()}`;
    const cached = this.hosts.get(name);
    if (cached?.key === key) return cached.host;
    const credentials =
      r.username !== null && r.secret_enc !== null
        ? { username: r.username, password: this.box.open(r.secret_enc) }
        : undefined;
    const host = openHost(r.url, { insecure: r.insecure, agent: this.agent, ...(credentials ? { credentials } : {}) });
    this.hosts.set(name, { key, host });
    return host;
  }

  async testConnection(name: string, signal?: AbortSignal): Promise<ConnectionReport> {
    const c = await this.credentials(name);
    const host = openHost(c.host, {
      insecure: c.insecure,
      agent: c.agent,
      retry: { retries: 1, baseDelayMs: 100, maxDelayMs: 500 },
      ...(c.credentials ? { credentials: c.credentials } : {}),
    });
    const t = host.transport;
    try {
      const res = await t.send({
        method: 'GET',
        url: '/v2/',
        scopes: [],
        operation: `GET /v2/ on ${c.host}`,
        ...(signal ? { signal } : {}),
      });
      await res.body.dump();
      if (res.statusCode === 401)
        return {
          reachable: true,
          auth: c.credentials ? 'refused' : 'anonymous',
          referrersApi: 'unknown',
          message: c.credentials ? 'the registry refused the credentials' : 'the registry requires credentials',
        };
      if (res.statusCode !== 200)
        return {
          reachable: true,
          auth: 'not-checked',
          referrersApi: 'unknown',
          message: `GET /v2/ answered HTTP ${res.statusCode}`,
        };
      const probe = await t.send({
        method: 'GET',
        url: `/v2/hoist-probe/referrers/sha256:${'0'.repeat(64)}`,
        scopes: ['repository:hoist-probe:pull'],
        operation: 'referrers probe',
        ...(signal ? { signal } : {}),
      });
      const json = String(probe.headers['content-type'] ?? '').includes('json');
      await probe.body.dump();
      const referrersApi = probe.statusCode === 200 ? true : probe.statusCode === 404 && !json ? false : 'unknown';
      return { reachable: true, auth: c.credentials ? 'accepted' : 'anonymous', referrersApi, message: 'ok' };
    } catch (e) {
      if (e instanceof RegistryError && e.status === 401)
        return { reachable: true, auth: 'refused', referrersApi: 'unknown', message: e.message };
      return { reachable: false, auth: 'not-checked', referrersApi: 'unknown', message: (e as Error).message };
    }
  }
}
