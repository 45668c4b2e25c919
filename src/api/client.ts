/**
 * The typed client of hoist's REST API, used by the CLI (and by the web UI later). Answers carry the same types as
 * the services that produce them; an error answer becomes an ApiError with the server's code and message.
 */
import type { NamespaceView } from '../service/namespaces.service.ts';
import type { AuditRecord } from '../store/audit.repository.ts';
import type { AuditCheckpoint, CheckpointVerdict } from '../service/audit-checkpoints.ts';
import type { ArtifactView, BuildInfo } from '../service/artifacts.service.ts';
import type { EnvironmentInput, EnvironmentView, Edge } from '../service/environments.service.ts';
import type { Binding, PolicyInput, PolicyView } from '../service/policies.service.ts';
import type { MemberView, ProjectView } from '../service/projects.service.ts';
import type { Membership } from '../service/identity.ts';
import type { HistoryEntry, PromotionInput, PromotionView } from '../service/promotions.service.ts';
import type { ConnectionReport, RegistryInput, RegistryView } from '../service/registries.service.ts';
import type { DeliveryView, WebhookInput, WebhookView } from '../service/webhooks.service.ts';
import type { DryRunMatch, RuleInput, RuleView } from '../service/rules.service.ts';
import type { BindingInput, BindingView } from '../service/bindings.service.ts';
import type { QuarantineView } from '../service/quarantine.service.ts';
import type { HookKind, PushEventView } from '../service/intake.service.ts';
import type { WatchView } from '../service/poller.ts';
import type { PromotionWindow } from '../automation/window.ts';
import { ApiError } from '../errors.ts';
import { CSRF_HEADER } from './session.ts';

export { ApiError } from '../errors.ts';

export interface TokenView {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

type Json = Record<string, unknown>;
type AuditEntryView = Omit<AuditRecord, 'at'> & { at: string };

export class HoistClient {
  constructor(
    readonly server: string,
    private readonly token?: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(path, this.server), {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      throw new ApiError(
        0,
        'UNREACHABLE',
        `cannot reach the hoist server at ${this.server}: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`,
      );
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      throw new ApiError(
        res.status,
        err?.code ?? `HTTP_${res.status}`,
        err?.message ?? `HTTP ${res.status}`,
        err?.details,
      );
    }
    return parsed as T;
  }

  /** Every item of a paged list, following nextCursor. */
  async all<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: T[]; nextCursor: string | null } = await this.request(
        'GET',
        `${path}?limit=1000${cursor === null ? '' : `&cursor=${enc(cursor)}`}`,
      );
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return items;
  }

  me = () => this.request<{ username: string; isAdmin: boolean; memberships: Membership[] }>('GET', '/api/v1/me');
  login = (username: string, password: string) =>
    this.request<{ username: string; csrfToken: string }>('POST', '/api/v1/login', { username, password });

  registries = {
    list: () => this.all<RegistryView>('/api/v1/registries'),
    get: (name: string) => this.request<RegistryView>('GET', `/api/v1/registries/${enc(name)}`),
    put: (r: RegistryInput) => {
      const { name, ...body } = r;
      return this.request<RegistryView>('PUT', `/api/v1/registries/${enc(name)}`, body);
    },
    remove: (name: string) => this.request<void>('DELETE', `/api/v1/registries/${enc(name)}`),
    test: (name: string) => this.request<ConnectionReport>('POST', `/api/v1/registries/${enc(name)}/test`),
  };

  rules = {
    list: async (project: string) =>
      (await this.request<{ items: RuleView[] }>('GET', `/api/v1/projects/${enc(project)}/rules`)).items,
    get: (project: string, name: string) =>
      this.request<RuleView>('GET', `/api/v1/projects/${enc(project)}/rules/${enc(name)}`),
    create: (project: string, input: RuleInput) =>
      this.request<RuleView>('POST', `/api/v1/projects/${enc(project)}/rules`, input),
    dryRun: (project: string, input: RuleInput) =>
      this.request<{ expression: string; artifacts: DryRunMatch[] }>(
        'POST',
        `/api/v1/projects/${enc(project)}/rules/dry-run`,
        input,
      ),
    remove: (project: string, name: string) =>
      this.request<void>('DELETE', `/api/v1/projects/${enc(project)}/rules/${enc(name)}`),
  };

  bindings = {
    list: async (project: string) =>
      (await this.request<{ items: BindingView[] }>('GET', `/api/v1/projects/${enc(project)}/bindings`)).items,
    set: (project: string, app: string, env: string, input: BindingInput) =>
      this.request<{ binding: BindingView; promotion: PromotionView | null }>(
        'PUT',
        `/api/v1/projects/${enc(project)}/applications/${enc(app)}/bindings/${enc(env)}`,
        input,
      ),
    remove: (project: string, app: string, env: string) =>
      this.request<void>('DELETE', `/api/v1/projects/${enc(project)}/applications/${enc(app)}/bindings/${enc(env)}`),
  };

  windows = {
    set: (project: string, env: string, windows: PromotionWindow[]) =>
      this.request<{ windows: PromotionWindow[] }>(
        'PUT',
        `/api/v1/projects/${enc(project)}/environments/${enc(env)}/windows`,
        { windows },
      ),
  };

  quarantine = {
    list: async () => (await this.request<{ items: QuarantineView[] }>('GET', '/api/v1/quarantine')).items,
    add: (digest: string, reason: string) =>
      this.request<{ quarantine: QuarantineView; rejected: number }>('POST', '/api/v1/quarantine', { digest, reason }),
    lift: (digest: string, comment?: string) =>
      this.request<void>('DELETE', `/api/v1/quarantine/${enc(digest)}${comment ? `?comment=${enc(comment)}` : ''}`),
  };

  watches = {
    list: async () => (await this.request<{ items: WatchView[] }>('GET', '/api/v1/watches')).items,
    add: (repository: string, intervalSeconds?: number) =>
      this.request<WatchView>('POST', '/api/v1/watches', {
        repository,
        ...(intervalSeconds !== undefined ? { intervalSeconds } : {}),
      }),
    remove: (id: string) => this.request<void>('DELETE', `/api/v1/watches/${enc(id)}`),
  };

  events = {
    list: async (limit?: number) =>
      (
        await this.request<{ items: PushEventView[] }>(
          'GET',
          `/api/v1/events${limit !== undefined ? `?limit=${limit}` : ''}`,
        )
      ).items,
    setSecret: (registry: string, kind: HookKind, secret?: string) =>
      this.request<{ registry: string; kind: HookKind; secret?: string }>(
        'PUT',
        `/api/v1/registries/${enc(registry)}/hooks/${kind}`,
        secret === undefined ? {} : { secret },
      ),
  };

  webhooks = {
    list: async (project: string) =>
      (await this.request<{ items: WebhookView[] }>('GET', `/api/v1/projects/${enc(project)}/webhooks`)).items,
    create: (project: string, input: WebhookInput) =>
      this.request<WebhookView & { secret?: string }>('POST', `/api/v1/projects/${enc(project)}/webhooks`, input),
    remove: (project: string, id: string) =>
      this.request<void>('DELETE', `/api/v1/projects/${enc(project)}/webhooks/${enc(id)}`),
    deliveries: async (project: string, id: string) =>
      (
        await this.request<{ items: DeliveryView[] }>(
          'GET',
          `/api/v1/projects/${enc(project)}/webhooks/${enc(id)}/deliveries`,
        )
      ).items,
  };

  projects = {
    list: () => this.all<ProjectView>('/api/v1/projects'),
    get: (name: string) => this.request<ProjectView>('GET', `/api/v1/projects/${enc(name)}`),
    create: (name: string, description?: string) =>
      this.request<ProjectView>(
        'POST',
        '/api/v1/projects',
        description === undefined ? { name } : { name, description },
      ),
    update: (name: string, description: string) =>
      this.request<ProjectView>('PUT', `/api/v1/projects/${enc(name)}`, { description }),
    remove: (name: string) => this.request<void>('DELETE', `/api/v1/projects/${enc(name)}`),
    applications: async (project: string) =>
      (await this.request<{ items: string[] }>('GET', `/api/v1/projects/${enc(project)}/applications`)).items,
    addApplication: (project: string, name: string) =>
      this.request<Json>('POST', `/api/v1/projects/${enc(project)}/applications`, { name }),
    removeApplication: (project: string, name: string) =>
      this.request<void>('DELETE', `/api/v1/projects/${enc(project)}/applications/${enc(name)}`),
    members: async (project: string) =>
      (await this.request<{ items: MemberView[] }>('GET', `/api/v1/projects/${enc(project)}/members`)).items,
    grant: (project: string, m: MemberView) =>
      this.request<MemberView>('POST', `/api/v1/projects/${enc(project)}/members`, m),
    namespaces: async (project: string) =>
      (await this.request<{ items: NamespaceView[] }>('GET', `/api/v1/projects/${enc(project)}/namespaces`)).items,
    grantNamespace: (project: string, registry: string, prefix: string) =>
      this.request<NamespaceView>('PUT', `/api/v1/projects/${enc(project)}/namespaces`, { registry, prefix }),
    revokeNamespace: (project: string, registry: string, prefix: string) =>
      this.request<void>(
        'DELETE',
        `/api/v1/projects/${enc(project)}/namespaces?${new URLSearchParams({ registry, prefix }).toString()}`,
      ),
  };

  environments = {
    list: async (project: string) =>
      (await this.request<{ items: EnvironmentView[] }>('GET', `/api/v1/projects/${enc(project)}/environments`)).items,
    put: (project: string, e: EnvironmentInput) => {
      const { name, ...body } = e;
      return this.request<EnvironmentView>('PUT', `/api/v1/projects/${enc(project)}/environments/${enc(name)}`, body);
    },
    remove: (project: string, name: string) =>
      this.request<void>('DELETE', `/api/v1/projects/${enc(project)}/environments/${enc(name)}`),
    pipeline: async (project: string) =>
      (await this.request<{ edges: Edge[] }>('GET', `/api/v1/projects/${enc(project)}/pipeline`)).edges,
    setPipeline: async (project: string, edges: Edge[]) =>
      (await this.request<{ edges: Edge[] }>('PUT', `/api/v1/projects/${enc(project)}/pipeline`, { edges })).edges,
  };

  users = {
    list: async () =>
      (
        await this.request<{
          items: Array<{ username: string; isAdmin: boolean; email: string | null; createdAt: string }>;
        }>('GET', '/api/v1/users')
      ).items,
    create: (username: string, password: string, isAdmin = false, email?: string) =>
      this.request<Json>('POST', '/api/v1/users', {
        username,
        password,
        isAdmin,
        ...(email !== undefined ? { email } : {}),
      }),
    setEmail: (username: string, email: string | null) =>
      this.request<Json>('PATCH', `/api/v1/users/${encodeURIComponent(username)}`, { email }),
  };

  tokens = {
    list: async () => (await this.request<{ items: TokenView[] }>('GET', '/api/v1/tokens')).items,
    create: (name: string, expiresInDays?: number) =>
      this.request<{ id: string; name: string; token: string; expiresAt: string | null }>(
        'POST',
        '/api/v1/tokens',
        expiresInDays === undefined ? { name } : { name, expiresInDays },
      ),
    revoke: (id: string) => this.request<void>('DELETE', `/api/v1/tokens/${enc(id)}`),
  };

  policies = {
    list: async () => (await this.request<{ items: PolicyView[] }>('GET', '/api/v1/policies')).items,
    get: (name: string, version?: number) =>
      this.request<PolicyView>(
        'GET',
        `/api/v1/policies/${enc(name)}${version === undefined ? '' : `?version=${version}`}`,
      ),
    create: (p: PolicyInput) => this.request<PolicyView>('POST', '/api/v1/policies', p),
    put: (p: PolicyInput) => {
      const { name, ...body } = p;
      return this.request<PolicyView>('PUT', `/api/v1/policies/${enc(name)}`, body);
    },
    remove: (name: string) => this.request<void>('DELETE', `/api/v1/policies/${enc(name)}`),
    apply: (name: string, applicationEnvironments: Binding[]) =>
      this.request<PolicyView>('POST', `/api/v1/policies/${enc(name)}/apply`, { applicationEnvironments }),
    unapply: (name: string, applicationEnvironments: Binding[]) =>
      this.request<PolicyView>('POST', `/api/v1/policies/${enc(name)}/unapply`, { applicationEnvironments }),
    validate: (expression: string) =>
      this.request<{ valid: boolean; line?: number; column?: number; message?: string }>(
        'POST',
        '/api/v1/policies/validate',
        { expression },
      ),
  };

  artifacts = {
    register: (project: string, app: string, body: { reference: string } & BuildInfo) =>
      this.request<ArtifactView>('POST', `/api/v1/projects/${enc(project)}/applications/${enc(app)}/artifacts`, body),
    list: async (project: string, app: string, environment?: string) =>
      (
        await this.request<{ items: ArtifactView[] }>(
          'GET',
          `/api/v1/projects/${enc(project)}/applications/${enc(app)}/artifacts${environment === undefined ? '' : `?environment=${enc(environment)}`}`,
        )
      ).items,
    get: (project: string, app: string, digest: string) =>
      this.request<ArtifactView>(
        'GET',
        `/api/v1/projects/${enc(project)}/applications/${enc(app)}/artifacts/${enc(digest)}`,
      ),
  };

  promotions = {
    request: (project: string, app: string, body: PromotionInput) =>
      this.request<PromotionView>('POST', `/api/v1/projects/${enc(project)}/applications/${enc(app)}/promotions`, body),
    list: async (project: string, q: { state?: string; environment?: string } = {}) =>
      (
        await this.request<{ items: PromotionView[] }>(
          'GET',
          `/api/v1/projects/${enc(project)}/promotions?${new URLSearchParams(q as Record<string, string>).toString()}`,
        )
      ).items,
    get: (project: string, id: string) =>
      this.request<PromotionView>('GET', `/api/v1/projects/${enc(project)}/promotions/${enc(id)}`),
    decide: (
      project: string,
      id: string,
      decision: 'approve' | 'reject',
      body: { comment?: string; environments?: string[] },
    ) =>
      this.request<PromotionView>('POST', `/api/v1/projects/${enc(project)}/promotions/${enc(id)}/${decision}`, body),
    cancel: (project: string, id: string) =>
      this.request<PromotionView>('POST', `/api/v1/projects/${enc(project)}/promotions/${enc(id)}/cancel`),
    history: async (project: string, q: Record<string, string>) =>
      (
        await this.request<{ items: HistoryEntry[] }>(
          'GET',
          `/api/v1/projects/${enc(project)}/history?${new URLSearchParams(q).toString()}`,
        )
      ).items,
    deployable: (project: string, env: string, digest: string, deployer?: string) =>
      this.request<{ allowed: boolean; reason: string; promotion?: string }>(
        'GET',
        `/api/v1/projects/${enc(project)}/environments/${enc(env)}/deployable?digest=${enc(digest)}${deployer ? `&deployer=${enc(deployer)}` : ''}`,
      ),
  };

  audit = {
    list: (q: Record<string, string>) =>
      this.request<{ items: AuditEntryView[]; nextCursor: string | null }>(
        'GET',
        `/api/v1/audit?${new URLSearchParams(q).toString()}`,
      ),
    verify: (checkpoint?: AuditCheckpoint) =>
      this.request<CheckpointVerdict>('POST', '/api/v1/audit/verify', checkpoint === undefined ? {} : { checkpoint }),
    checkpoint: () =>
      this.request<{ checkpoint: AuditCheckpoint | null; publicKey: string }>('GET', '/api/v1/audit/checkpoint'),
  };
}

const enc = encodeURIComponent;

/**
 * Signs in with a password and trades the browser session for a named API token (then ends the session): how the
 * CLI logs in without ever storing the password.
 */
export async function signInForToken(
  server: string,
  username: string,
  password: string,
  tokenName: string,
  expiresInDays: number,
): Promise<string> {
  const fail = (
    status: number,
    body: { error?: { code: string; message: string } } | undefined,
    what: string,
  ): never => {
    throw new ApiError(status, body?.error?.code ?? `HTTP_${status}`, body?.error?.message ?? what);
  };
  let login: Response;
  try {
    login = await fetch(`${server}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  } catch (e) {
    throw new ApiError(
      0,
      'UNREACHABLE',
      `cannot reach the hoist server at ${server}: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`,
    );
  }
  const session = (await login.json().catch(() => undefined)) as
    { csrfToken?: string; error?: { code: string; message: string } } | undefined;
  if (!login.ok || !session?.csrfToken) return fail(login.status, session, 'login failed');
  const headers = {
    'content-type': 'application/json',
    cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
    [CSRF_HEADER]: session.csrfToken,
  };
  const res = await fetch(`${server}/api/v1/tokens`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: tokenName, expiresInDays }),
  });
  const token = (await res.json().catch(() => undefined)) as
    { token?: string; error?: { code: string; message: string } } | undefined;
  await fetch(`${server}/api/v1/logout`, {
    method: 'POST',
    headers: { cookie: headers.cookie, [CSRF_HEADER]: session.csrfToken },
  }).catch(() => undefined);
  if (!res.ok || !token?.token) return fail(res.status, token, 'could not create a token');
  return token.token;
}
