/**
 * The typed client of hoist's REST API, used by the CLI and the web console. Its types come from the OpenAPI
 * document (`openapi.ts`, generated), its requests go through openapi-fetch, and it imports nothing from the server.
 * An error answer becomes an ApiError with the server's code and message; a signed-in browser (a session instead of
 * a token) sends the CSRF token with every mutating call.
 */
import createClient, { type Client } from 'openapi-fetch';
import { apiErrorOf, unreachable } from './api-error.ts';
import type { paths } from './openapi.ts';
import type * as T from './types.ts';

/** The header a session caller sends its CSRF token in (given at login and by GET /api/v1/me). */
export const CSRF_HEADER = 'x-csrf-token';
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface HoistClientOptions {
  /** For a browser session: sent as the CSRF header on mutating calls. */
  csrfToken?: string;
  fetch?: (request: Request) => Promise<Response>;
}

interface Answer<D> {
  data?: D;
  error?: unknown;
  response: Response;
}
interface Page<I> {
  items: I[];
  nextCursor: string | null;
}

export class HoistClient {
  /** The generated client itself, for operations this class has no shortcut for. */
  readonly api: Client<paths>;

  constructor(
    readonly server: string,
    token?: string,
    options: HoistClientOptions = {},
  ) {
    this.api = createClient<paths>({
      baseUrl: server.replace(/\/+$/, ''),
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    const csrf = options.csrfToken;
    if (csrf !== undefined) {
      this.api.use({
        onRequest: ({ request }) => {
          if (MUTATING.has(request.method)) request.headers.set(CSRF_HEADER, csrf);
          return request;
        },
      });
    }
  }

  /** The answer's data, or the ApiError it stands for. */
  async call<D>(pending: Promise<Answer<D>>): Promise<D> {
    let answer: Answer<D>;
    try {
      answer = await pending;
    } catch (e) {
      // fetch fails with a TypeError when there is no answer at all; anything else is ours to see.
      if (e instanceof TypeError) throw unreachable(this.server, e);
      throw e;
    }
    if (!answer.response.ok) throw apiErrorOf(answer.response.status, answer.error);
    return answer.data as D;
  }

  /** Every item of a paged list, following nextCursor. */
  private async all<I>(page: (cursor: string | undefined) => Promise<Answer<Page<I>>>): Promise<I[]> {
    const items: I[] = [];
    let cursor: string | undefined;
    do {
      const p = await this.call(page(cursor));
      items.push(...p.items);
      cursor = p.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return items;
  }

  private async items<I>(pending: Promise<Answer<{ items: I[] }>>): Promise<I[]> {
    return (await this.call(pending)).items;
  }

  private async done(pending: Promise<Answer<unknown>>): Promise<void> {
    await this.call(pending);
  }

  me = () => this.call(this.api.GET('/api/v1/me'));
  login = (username: string, password: string) =>
    this.call(this.api.POST('/api/v1/login', { body: { username, password } }));

  registries = {
    list: () =>
      this.all((cursor) =>
        this.api.GET('/api/v1/registries', { params: { query: { limit: 1000, ...(cursor ? { cursor } : {}) } } }),
      ),
    get: (name: string) => this.call(this.api.GET('/api/v1/registries/{name}', { params: { path: { name } } })),
    put: (r: T.RegistryInput) => {
      const { name, ...body } = r;
      return this.call(this.api.PUT('/api/v1/registries/{name}', { params: { path: { name } }, body }));
    },
    remove: (name: string) => this.done(this.api.DELETE('/api/v1/registries/{name}', { params: { path: { name } } })),
    test: (name: string) => this.call(this.api.POST('/api/v1/registries/{name}/test', { params: { path: { name } } })),
  };

  rules = {
    list: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/rules', { params: { path: { project } } })),
    get: (project: string, name: string) =>
      this.call(this.api.GET('/api/v1/projects/{project}/rules/{name}', { params: { path: { project, name } } })),
    create: (project: string, body: T.RuleInput) =>
      this.call(this.api.POST('/api/v1/projects/{project}/rules', { params: { path: { project } }, body })),
    dryRun: (project: string, body: T.RuleInput) =>
      this.call(this.api.POST('/api/v1/projects/{project}/rules/dry-run', { params: { path: { project } }, body })),
    remove: (project: string, name: string) =>
      this.done(this.api.DELETE('/api/v1/projects/{project}/rules/{name}', { params: { path: { project, name } } })),
  };

  bindings = {
    list: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/bindings', { params: { path: { project } } })),
    set: (project: string, app: string, env: string, body: T.BindingInput) =>
      this.call(
        this.api.PUT('/api/v1/projects/{project}/applications/{app}/bindings/{env}', {
          params: { path: { project, app, env } },
          body,
        }),
      ),
    remove: (project: string, app: string, env: string) =>
      this.done(
        this.api.DELETE('/api/v1/projects/{project}/applications/{app}/bindings/{env}', {
          params: { path: { project, app, env } },
        }),
      ),
  };

  /** An environment's Git target (GitOps write-back). */
  gitTargets = {
    get: (project: string, env: string) =>
      this.call(
        this.api.GET('/api/v1/projects/{project}/environments/{env}/git-target', {
          params: { path: { project, env } },
        }),
      ),
    put: (project: string, env: string, body: T.GitTargetInput) =>
      this.call(
        this.api.PUT('/api/v1/projects/{project}/environments/{env}/git-target', {
          params: { path: { project, env } },
          body,
        }),
      ),
    remove: (project: string, env: string) =>
      this.done(
        this.api.DELETE('/api/v1/projects/{project}/environments/{env}/git-target', {
          params: { path: { project, env } },
        }),
      ),
  };

  windows = {
    set: (project: string, env: string, windows: T.Window[]) =>
      this.call(
        this.api.PUT('/api/v1/projects/{project}/environments/{env}/windows', {
          params: { path: { project, env } },
          body: { windows },
        }),
      ),
  };

  quarantine = {
    list: () => this.items(this.api.GET('/api/v1/quarantine')),
    add: (digest: string, reason: string) =>
      this.call(this.api.POST('/api/v1/quarantine', { body: { digest, reason } })),
    lift: (digest: string, comment?: string) =>
      this.done(
        this.api.DELETE('/api/v1/quarantine/{digest}', {
          params: { path: { digest }, query: comment ? { comment } : {} },
        }),
      ),
  };

  watches = {
    list: () => this.items(this.api.GET('/api/v1/watches')),
    add: (repository: string, intervalSeconds?: number) =>
      this.call(
        this.api.POST('/api/v1/watches', {
          body: { repository, ...(intervalSeconds !== undefined ? { intervalSeconds } : {}) },
        }),
      ),
    remove: (id: string) => this.done(this.api.DELETE('/api/v1/watches/{id}', { params: { path: { id } } })),
  };

  events = {
    list: (limit?: number) =>
      this.items(this.api.GET('/api/v1/events', { params: { query: limit !== undefined ? { limit } : {} } })),
    page: (query: T.PushEventQuery = {}) => this.call(this.api.GET('/api/v1/events', { params: { query } })),
    setSecret: (registry: string, kind: T.HookKind, secret?: string) =>
      this.call(
        this.api.PUT('/api/v1/registries/{name}/hooks/{kind}', {
          params: { path: { name: registry, kind } },
          body: secret === undefined ? {} : { secret },
        }),
      ),
  };

  webhooks = {
    list: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/webhooks', { params: { path: { project } } })),
    create: (project: string, body: T.WebhookInput) =>
      this.call(this.api.POST('/api/v1/projects/{project}/webhooks', { params: { path: { project } }, body })),
    remove: (project: string, id: string) =>
      this.done(this.api.DELETE('/api/v1/projects/{project}/webhooks/{id}', { params: { path: { project, id } } })),
    deliveries: (project: string, id: string) =>
      this.items(
        this.api.GET('/api/v1/projects/{project}/webhooks/{id}/deliveries', { params: { path: { project, id } } }),
      ),
  };

  projects = {
    list: () =>
      this.all((cursor) =>
        this.api.GET('/api/v1/projects', { params: { query: { limit: 1000, ...(cursor ? { cursor } : {}) } } }),
      ),
    get: (project: string) => this.call(this.api.GET('/api/v1/projects/{project}', { params: { path: { project } } })),
    create: (name: string, description?: string) =>
      this.call(
        this.api.POST('/api/v1/projects', { body: description === undefined ? { name } : { name, description } }),
      ),
    update: (project: string, description: string) =>
      this.call(this.api.PUT('/api/v1/projects/{project}', { params: { path: { project } }, body: { description } })),
    remove: (project: string) =>
      this.done(this.api.DELETE('/api/v1/projects/{project}', { params: { path: { project } } })),
    applications: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/applications', { params: { path: { project } } })),
    addApplication: (project: string, name: string) =>
      this.call(
        this.api.POST('/api/v1/projects/{project}/applications', { params: { path: { project } }, body: { name } }),
      ),
    removeApplication: (project: string, app: string) =>
      this.done(
        this.api.DELETE('/api/v1/projects/{project}/applications/{app}', { params: { path: { project, app } } }),
      ),
    members: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/members', { params: { path: { project } } })),
    grant: (project: string, body: T.Member) =>
      this.call(this.api.POST('/api/v1/projects/{project}/members', { params: { path: { project } }, body })),
    namespaces: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/namespaces', { params: { path: { project } } })),
    grantNamespace: (project: string, registry: string, prefix: string) =>
      this.call(
        this.api.PUT('/api/v1/projects/{project}/namespaces', {
          params: { path: { project } },
          body: { registry, prefix },
        }),
      ),
    revokeNamespace: (project: string, registry: string, prefix: string) =>
      this.done(
        this.api.DELETE('/api/v1/projects/{project}/namespaces', {
          params: { path: { project }, query: { registry, prefix } },
        }),
      ),
  };

  trustRoots = {
    list: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/trust-roots', { params: { path: { project } } })),
    put: (project: string, name: string, publicKey: string) =>
      this.call(
        this.api.PUT('/api/v1/projects/{project}/trust-roots/{name}', {
          params: { path: { project, name } },
          body: { publicKey },
        }),
      ),
    /** A Sigstore identity (issuer/issuerRegex, subject/subjectRegex) and the trusted_root.json text. */
    putSigstore: (project: string, name: string, sigstore: T.SigstoreRootInput) =>
      this.call(
        this.api.PUT('/api/v1/projects/{project}/trust-roots/{name}', {
          params: { path: { project, name } },
          body: { sigstore },
        }),
      ),
    remove: (project: string, name: string) =>
      this.done(
        this.api.DELETE('/api/v1/projects/{project}/trust-roots/{name}', { params: { path: { project, name } } }),
      ),
  };

  signingKeys = {
    /** hoist's public signing keys (no sign-in needed). */
    list: () => this.items(this.api.GET('/api/v1/signing-key')),
    rotate: () => this.call(this.api.POST('/api/v1/signing-key/rotate')),
  };

  environments = {
    list: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/environments', { params: { path: { project } } })),
    put: (project: string, e: T.EnvironmentInput) => {
      const { name: env, ...body } = e;
      return this.call(
        this.api.PUT('/api/v1/projects/{project}/environments/{env}', { params: { path: { project, env } }, body }),
      );
    },
    remove: (project: string, env: string) =>
      this.done(
        this.api.DELETE('/api/v1/projects/{project}/environments/{env}', { params: { path: { project, env } } }),
      ),
    pipeline: async (project: string) =>
      (await this.call(this.api.GET('/api/v1/projects/{project}/pipeline', { params: { path: { project } } }))).edges,
    setPipeline: async (project: string, edges: T.Edge[]) =>
      (
        await this.call(
          this.api.PUT('/api/v1/projects/{project}/pipeline', { params: { path: { project } }, body: { edges } }),
        )
      ).edges,
  };

  users = {
    list: () => this.items(this.api.GET('/api/v1/users')),
    create: (username: string, password: string, isAdmin = false, email?: string) =>
      this.call(
        this.api.POST('/api/v1/users', {
          body: { username, password, isAdmin, ...(email !== undefined ? { email } : {}) },
        }),
      ),
    setEmail: (username: string, email: string | null) =>
      this.call(this.api.PATCH('/api/v1/users/{username}', { params: { path: { username } }, body: { email } })),
  };

  sso = {
    status: () => this.call(this.api.GET('/api/v1/sso/status')),
    get: () => this.call(this.api.GET('/api/v1/sso')),
    put: (body: T.SsoInput) => this.call(this.api.PUT('/api/v1/sso', { body })),
    remove: () => this.done(this.api.DELETE('/api/v1/sso')),
    /** hoist login --sso: the one-time code the sign-in sent to the CLI, and the CLI's PKCE verifier. */
    cliToken: (code: string, codeVerifier: string, name: string) =>
      this.call(this.api.POST('/api/v1/sso/cli-token', { body: { code, codeVerifier, name } })),
  };

  tokens = {
    list: () => this.items(this.api.GET('/api/v1/tokens')),
    create: (name: string, expiresInDays?: number) =>
      this.call(
        this.api.POST('/api/v1/tokens', { body: expiresInDays === undefined ? { name } : { name, expiresInDays } }),
      ),
    revoke: (id: string) => this.done(this.api.DELETE('/api/v1/tokens/{id}', { params: { path: { id } } })),
  };

  policies = {
    list: () => this.items(this.api.GET('/api/v1/policies')),
    get: (name: string, version?: number) =>
      this.call(
        this.api.GET('/api/v1/policies/{name}', {
          params: { path: { name }, query: version === undefined ? {} : { version } },
        }),
      ),
    create: (body: T.PolicyInput) => this.call(this.api.POST('/api/v1/policies', { body })),
    put: (p: T.PolicyInput) => {
      const { name, ...body } = p;
      return this.call(this.api.PUT('/api/v1/policies/{name}', { params: { path: { name } }, body }));
    },
    /** Answers the targets the deletion made STALE (undefined when nothing waited under it: 204). */
    remove: (name: string, o: { force?: boolean } = {}) =>
      this.call(
        this.api.DELETE('/api/v1/policies/{name}', {
          params: { path: { name }, query: o.force ? { force: true } : {} },
        }),
      ),
    apply: (name: string, applicationEnvironments: T.ApplicationEnvironment[]) =>
      this.call(
        this.api.POST('/api/v1/policies/{name}/apply', {
          params: { path: { name } },
          body: { applicationEnvironments },
        }),
      ),
    unapply: (name: string, applicationEnvironments: T.ApplicationEnvironment[]) =>
      this.call(
        this.api.POST('/api/v1/policies/{name}/unapply', {
          params: { path: { name } },
          body: { applicationEnvironments },
        }),
      ),
    validate: (expression: string) => this.call(this.api.POST('/api/v1/policies/validate', { body: { expression } })),
  };

  artifacts = {
    register: (project: string, app: string, body: T.ArtifactInput) =>
      this.call(
        this.api.POST('/api/v1/projects/{project}/applications/{app}/artifacts', {
          params: { path: { project, app } },
          body,
        }),
      ),
    list: (project: string, app: string, environment?: string) =>
      this.items(
        this.api.GET('/api/v1/projects/{project}/applications/{app}/artifacts', {
          params: { path: { project, app }, query: environment === undefined ? {} : { environment } },
        }),
      ),
    get: (project: string, app: string, digest: string) =>
      this.call(
        this.api.GET('/api/v1/projects/{project}/applications/{app}/artifacts/{digest}', {
          params: { path: { project, app, digest } },
        }),
      ),
  };

  promotions = {
    /** With an idempotency key, a request sent again (after a timeout) answers the first instead of making another. */
    request: (project: string, app: string, body: T.PromotionInput, o: { idempotencyKey?: string } = {}) =>
      this.call(
        this.api.POST('/api/v1/projects/{project}/applications/{app}/promotions', {
          params: { path: { project, app } },
          body,
          ...(o.idempotencyKey ? { headers: { 'idempotency-key': o.idempotencyKey } } : {}),
        }),
      ),
    list: (project: string, query: T.PromotionQuery = {}) =>
      this.items(this.api.GET('/api/v1/projects/{project}/promotions', { params: { path: { project }, query } })),
    /** One page with its nextCursor (pass it back as `cursor`; null on the last page). */
    listPage: (project: string, query: T.PromotionQuery = {}) =>
      this.call(this.api.GET('/api/v1/projects/{project}/promotions', { params: { path: { project }, query } })),
    get: (project: string, id: string) =>
      this.call(this.api.GET('/api/v1/projects/{project}/promotions/{id}', { params: { path: { project, id } } })),
    decide: (
      project: string,
      id: string,
      decision: 'approve' | 'reject',
      body: { comment?: string; environments?: string[] },
    ) =>
      this.call(
        decision === 'approve'
          ? this.api.POST('/api/v1/projects/{project}/promotions/{id}/approve', {
              params: { path: { project, id } },
              body,
            })
          : this.api.POST('/api/v1/projects/{project}/promotions/{id}/reject', {
              params: { path: { project, id } },
              body,
            }),
      ),
    cancel: (project: string, id: string) =>
      this.call(
        this.api.POST('/api/v1/projects/{project}/promotions/{id}/cancel', { params: { path: { project, id } } }),
      ),
    /** Queues the FAILED targets of a request again (only `environments` when given). */
    retry: (project: string, id: string, body: { environments?: string[] } = {}) =>
      this.call(
        this.api.POST('/api/v1/projects/{project}/promotions/{id}/retry', { params: { path: { project, id } }, body }),
      ),
    history: (project: string, query: T.HistoryQuery) =>
      this.items(this.api.GET('/api/v1/projects/{project}/history', { params: { path: { project }, query } })),
    historyPage: (project: string, query: T.HistoryQuery) =>
      this.call(this.api.GET('/api/v1/projects/{project}/history', { params: { path: { project }, query } })),
    deployable: (project: string, env: string, digest: string, deployer?: string) =>
      this.call(
        this.api.GET('/api/v1/projects/{project}/environments/{env}/deployable', {
          params: { path: { project, env }, query: { digest, ...(deployer ? { deployer } : {}) } },
        }),
      ),
  };

  attestation = {
    check: (project: string, env: string, digest: string) =>
      this.call(
        this.api.GET('/api/v1/projects/{project}/environments/{env}/attestation', {
          params: { path: { project, env }, query: { digest } },
        }),
      ),
  };

  /** Named sets of (application, digest) pairs, promoted together; their requests are promotions (approve, cancel). */
  releases = {
    create: (project: string, body: T.ReleaseInput) =>
      this.call(this.api.POST('/api/v1/projects/{project}/releases', { params: { path: { project } }, body })),
    list: (project: string) =>
      this.items(this.api.GET('/api/v1/projects/{project}/releases', { params: { path: { project } } })),
    get: (project: string, name: string) =>
      this.call(this.api.GET('/api/v1/projects/{project}/releases/{name}', { params: { path: { project, name } } })),
    promote: (project: string, name: string, body: T.ReleasePromotionInput) =>
      this.call(
        this.api.POST('/api/v1/projects/{project}/releases/{name}/promotions', {
          params: { path: { project, name } },
          body,
        }),
      ),
  };

  audit = {
    list: (query: T.AuditQuery) => this.call(this.api.GET('/api/v1/audit', { params: { query } })),
    verify: (checkpoint?: T.AuditCheckpoint) =>
      this.call(this.api.POST('/api/v1/audit/verify', { body: checkpoint === undefined ? {} : { checkpoint } })),
    checkpoint: () => this.call(this.api.GET('/api/v1/audit/checkpoint')),
  };
}
