/**
 * The database schema as Kysely sees it: one interface per table. Migrations (./migrations) create these tables;
 * the two must change together.
 */
import type { ColumnType, Generated } from 'kysely';
import type { Evidence, TrustResult } from '../trust/verify.ts';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  is_admin: boolean;
  disabled: boolean;
  created_at: Timestamp;
  email: ColumnType<string | null, string | null | undefined, string | null>;
  /** For a user who signs in with single sign-on (migration 0015): the provider's issuer and subject; else null. */
  external_issuer: ColumnType<string | null, string | null | undefined, string | null>;
  external_subject: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  csrf_token: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface LoginFailuresTable {
  key: string;
  failures: number;
  window_start: Timestamp;
}

export interface RegistriesTable {
  id: string;
  name: string;
  url: string;
  insecure: boolean;
  username: string | null;
  /** AES-256-GCM ciphertext of the password or token (see src/store/secrets.ts); never returned by the API. */
  secret_enc: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Requests per second the poller may send to this registry. */
  poll_budget: Generated<number>;
}

export interface ProjectsTable {
  id: string;
  name: string;
  description: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApplicationsTable {
  id: string;
  project_id: string;
  name: string;
  created_at: Timestamp;
}

export interface EnvironmentsTable {
  id: string;
  project_id: string;
  name: string;
  position: number;
  kind: 'repository' | 'tag';
  registry_id: string;
  /** `prod/{app}` for kind repository; the repository holding every stage for kind tag. */
  repository_template: string;
  /** `{app}:prod` style tag convention for kind tag; null for kind repository. */
  tag_template: string | null;
  immutable_tags: boolean;
  allow_tag_move: boolean;
  protected: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** An artifact may leave this environment only after it has been here this long (migration 0008). */
  soak_seconds: Generated<number>;
  /** Promotion windows ({days, start, end, timeZone}[]); null: always open. */
  windows: Json<unknown[] | null> | null;
}

export interface PipelineEdgesTable {
  id: string;
  project_id: string;
  from_env_id: string;
  to_env_id: string;
  created_at: Timestamp;
}

export type ProjectRole = 'owner' | 'promoter' | 'developer' | 'viewer';

/** A user's role in one project, as the store answers it. */
export interface Membership {
  project: string;
  role: ProjectRole;
  /** Environment names the role is limited to; null for all of the project's environments. */
  environments: string[] | null;
}

export interface MembershipsTable {
  id: string;
  project_id: string;
  user_id: string;
  role: ProjectRole;
  /** Environment names the role is limited to; null for all of the project's environments. */
  environments: Json<string[] | null> | null;
  created_at: Timestamp;
  /** `local`: granted by an admin; `sso`: derived from the provider's groups at the last sign-in (replaced then). */
  source: ColumnType<'local' | 'sso', 'local' | 'sso' | undefined, 'local' | 'sso'>;
}

export interface AuditLogTable {
  seq: Generated<string>;
  at: Timestamp;
  actor: string;
  action: string;
  object_type: string;
  object_id: string;
  summary: Json<Record<string, unknown>>;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

export interface ArtifactsTable {
  id: string;
  application_id: string;
  digest: string;
  registry_id: string;
  repository: string;
  tag: string | null;
  media_type: string;
  size: ColumnType<string, number, number>;
  labels: Json<Record<string, string>>;
  annotations: Json<Record<string, string>>;
  created: Timestamp | null;
  platforms: Json<string[]>;
  /** [{digest, mediaType, artifactType}] of signatures, SBOMs, reports attached when registered. */
  referrers: Json<Array<{ digest: string; mediaType: string; artifactType: string | null }>>;
  build: Json<{ branch?: string; commit?: string; builder?: string; ciUrl?: string; labels?: Record<string, string> }>;
  registered_by: string;
  registered_at: Timestamp;
  /** Counts per severity from an attached vulnerability report (migration 0007). */
  scan: ColumnType<ScanColumn | null, string | null | undefined, string | null>;
  sbom: ColumnType<SbomColumn | null, string | null | undefined, string | null>;
  /** The signatures and attestations read from the registry, and the verdict on them (migration 0016). */
  signature_evidence: ColumnType<Evidence[] | null, string | null | undefined, string | null>;
  trust: ColumnType<TrustResult | null, string | null | undefined, string | null>;
}

/** Every tag an artifact has been seen with (migration 0011). */
export interface ArtifactTagsTable {
  artifact_id: string;
  tag: string;
  first_seen: Timestamp;
  last_seen: Timestamp;
}

export interface ScanColumn {
  critical: number;
  high: number;
  medium: number;
  low: number;
  scanner?: string;
  digest: string;
}

export interface SbomColumn {
  licenses: string[];
  components: string[];
  format: string;
  digest: string;
}

export interface ArtifactLocationsTable {
  artifact_id: string;
  environment_id: string;
  tag: string | null;
  since: Timestamp;
}

/** What each environment holds now per application: its newest location, kept by triggers (migration 0020). */
export interface EnvironmentHoldingsTable {
  application_id: string;
  environment_id: string;
  artifact_id: string;
  since: Timestamp;
}

export interface PoliciesTable {
  id: string;
  name: string;
  current_version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PolicyVersionsTable {
  policy_id: string;
  version: number;
  description: string;
  pass_conditions: Json<string[]>;
  fail_conditions: Json<string[]>;
  approver_count: number;
  allow_requester_from_approve: boolean;
  allow_image_builder_from_approve: boolean;
  allow_approver_from_deploy: boolean;
  allow_skip_stages: Generated<boolean>;
  created_by: string;
  created_at: Timestamp;
}

export interface PolicyBindingsTable {
  policy_id: string;
  application_id: string;
  environment_id: string;
}

export type TargetState =
  'AWAITING_APPROVAL' | 'QUEUED' | 'PROMOTING' | 'PROMOTED' | 'REJECTED' | 'CANCELED' | 'STALE' | 'FAILED';

export interface PromotionRequestsTable {
  id: string;
  project_id: string;
  application_id: string;
  artifact_id: string;
  digest: string;
  source_env_id: string;
  requested_by: string;
  comment: string;
  created_at: Timestamp;
  /** The tag the request named, or the tag the image had in the source environment (migration 0011). */
  tag: ColumnType<string | null, string | null | undefined, string | null>;
  /** Set when the request promotes a release (migration 0021): its application and digest are the first item's. */
  release_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PromotionTargetsTable {
  id: string;
  request_id: string;
  environment_id: string;
  state: TargetState;
  policy_name: string | null;
  policy_version: number | null;
  approvals_needed: number;
  verdict: Json<unknown>;
  variables: Json<unknown>;
  reason: string | null;
  updated_at: Timestamp;
  attempts: Generated<number>;
  run_after: Timestamp | null;
  lease_until: Timestamp | null;
  result: Json<unknown> | null;
  /** The tag a rule chose (its tag template); null: the environment's convention. */
  tag: string | null;
  /** An admin let this target in outside its environment's promotion windows. */
  window_override: Generated<boolean>;
  /** Why it waits or was refused, as the plan said (`Blocker[]`, migration 0009); null for targets planned before. */
  blocked_by: ColumnType<unknown, string | null | undefined, string | null>;
  /** Fencing token: the lease generation, incremented on each claim. */
  lease_token: Generated<number>;
  /** When its current run of transient failures began (migration 0019); null when it is not failing. */
  failing_since: Timestamp | null;
}

export interface IdempotencyKeysTable {
  username: string;
  key: string;
  /** The request it was sent with (method, path, body), hashed: the same key with another request is refused. */
  fingerprint: string;
  request_id: string;
  created_at: Timestamp;
}

export interface PromotionDecisionsTable {
  target_id: string;
  username: string;
  decision: 'approve' | 'reject';
  comment: string;
  at: Timestamp;
}

export interface WebhooksTable {
  id: string;
  project_id: string;
  url: string;
  secret_enc: string;
  /** Event names it wants; null: all. */
  events: Json<string[] | null> | null;
  created_by: string;
  created_at: Timestamp;
}

export type DeliveryState = 'PENDING' | 'SENDING' | 'DELIVERED' | 'FAILED';

export interface NotificationDeliveriesTable {
  id: string;
  kind: 'webhook' | 'email';
  webhook_id: string | null;
  recipients: Json<string[]> | null;
  event: string;
  payload: Json<Record<string, unknown>>;
  state: DeliveryState;
  attempts: Generated<number>;
  run_after: Timestamp;
  lease_until: Timestamp | null;
  last_error: string | null;
  last_status: number | null;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
  lease_token: Generated<number>;
}

export interface HookSecretsTable {
  registry_id: string;
  kind: 'distribution' | 'harbor' | 'generic';
  secret_hash: string;
  created_at: Timestamp;
}

export type PushEventState = 'PENDING' | 'WORKING' | 'DONE' | 'IGNORED' | 'FAILED';

export interface PushEventsTable {
  id: string;
  registry_id: string;
  source: string;
  repository: string;
  tag: string | null;
  digest: string;
  state: PushEventState;
  attempts: Generated<number>;
  lease_until: Timestamp | null;
  run_after: Timestamp;
  outcome: string | null;
  received_at: Timestamp;
  done_at: Timestamp | null;
  lease_token: Generated<number>;
}

export interface RulesTable {
  id: string;
  project_id: string;
  name: string;
  application_id: string | null;
  source_env_id: string;
  target_env_id: string;
  criteria: Json<unknown[]>;
  expression: string;
  tag_template: string | null;
  mode: 'promote' | 'request';
  enabled: boolean;
  created_by: string;
  created_at: Timestamp;
}

export interface AutomationFiringsTable {
  /** `rule:<id>:<artifact>` or `latest:<app>:<env>:<artifact>`: one firing per rule (or binding) and artifact. */
  key: string;
  artifact_id: string;
  request_id: string | null;
  at: Timestamp;
}

export interface BindingsTable {
  application_id: string;
  environment_id: string;
  mode: 'track-latest' | 'pin';
  pinned_digest: string | null;
  updated_by: string;
  updated_at: Timestamp;
}

export interface QuarantineTable {
  digest: string;
  reason: string;
  by_user: string;
  at: Timestamp;
}

export interface WatchesTable {
  id: string;
  registry_id: string;
  repository: string;
  interval_seconds: number;
  /** tag → digest as last seen. */
  tags: Json<Record<string, string>>;
  last_checked_at: Timestamp | null;
  last_result: Json<unknown> | null;
  next_check_at: Timestamp;
  created_by: string;
  created_at: Timestamp;
}

export interface NamespaceGrantsTable {
  id: string;
  project_id: string;
  registry_id: string;
  /** A repository path prefix without the trailing slash (`shop` grants `shop/…`). */
  prefix: string;
  created_by: string;
  created_at: Timestamp;
}

/** A public key a project trusts to sign its artifacts (migration 0016). */
export interface TrustRootsTable {
  id: string;
  project_id: string;
  name: string;
  algorithm: string;
  /** sha256 of the key's DER SubjectPublicKeyInfo, hex. */
  fingerprint: string;
  /** PEM (SPKI); null for a Sigstore identity. */
  public_key: string | null;
  /** A Sigstore identity: issuer/issuerRegex and subject/subjectRegex (migration 0024). */
  sigstore: ColumnType<SigstoreIdentityColumn | null, string | null | undefined, string | null>;
  /** The Sigstore trusted_root.json a Sigstore identity's certificates must chain to. */
  trusted_root: string | null;
  created_by: string;
  created_at: Timestamp;
}

export interface SigstoreIdentityColumn {
  issuer?: string;
  issuerRegex?: string;
  subject?: string;
  subjectRegex?: string;
}

export interface MigrationNotesTable {
  seq: Generated<string>;
  migration: string;
  line: string;
  at: Timestamp;
}

/** Periodic work shared by replicas: who holds it, until when, with which token, and how far it got. */
export interface NamedLeasesTable {
  name: string;
  holder: string;
  token: number;
  lease_until: Timestamp;
  cursor: Timestamp | null;
}

/** What the event stream tells browsers, written with the change (migration 0018). */
export interface LiveEventsTable {
  /** bigserial: a string from PostgreSQL, a number from PGlite (compare with Number()). */
  id: Generated<string | number>;
  project_id: string;
  type: string;
  data: Json<Record<string, unknown>>;
  at: Timestamp;
}

/** The single sign-on provider (one row, id `default`); the client secret sealed with the SecretBox. */
export interface SsoConfigTable {
  id: 'default';
  issuer: string;
  client_id: string;
  secret_enc: string | null;
  display_name: string;
  /** Space-separated, as sent to the provider. */
  scopes: string;
  groups_claim: string;
  /** `[{group, project, role}]`; project `*` with role `admin` makes hoist admins. */
  group_roles: Json<Array<{ group: string; project: string; role: string }>>;
  updated_by: string;
  updated_at: Timestamp;
}

/** An authorization request in flight: single use (deleted when its callback arrives), minutes long. */
export interface SsoFlowsTable {
  /** SHA-256 of the `state` sent to the provider. */
  state_hash: string;
  /** SHA-256 of the cookie that binds the flow to the browser that started it. */
  binding_hash: string;
  nonce: string;
  code_verifier: string;
  return_to: string;
  /** This server's callback URL as sent to the provider (the token request must send the same). */
  redirect_uri: string;
  /** For `hoist login --sso`: the CLI's loopback URL and its PKCE challenge for the one-time code. */
  cli_redirect: string | null;
  cli_challenge: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/** A one-time code the CLI trades, with its PKCE verifier, for an API token. */
export interface SsoCliCodesTable {
  code_hash: string;
  user_id: string;
  challenge: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export type GitEdit = 'kustomize' | 'helm' | 'manifests';
export type GitWriteState = 'PENDING' | 'PUSHING' | 'DONE' | 'FAILED';

/** An environment's GitOps write-back target (migration 0022). */
export interface EnvironmentGitTargetsTable {
  environment_id: string;
  url: string;
  branch: string;
  /** A file, or (edit manifests) a directory; `{app}` is the application. */
  path: string;
  edit: GitEdit;
  /** edit helm: the dotted key (default image.digest). */
  key: string | null;
  /** The image name as the files spell it; null: the environment's registry/repository. */
  image: string | null;
  /** edit kustomize: the newName to write; null: none. */
  new_name: string | null;
  mode: 'push' | 'branch';
  username: string | null;
  /** The token or SSH private key, sealed (src/service/secret-box.ts); never returned by the API. */
  secret_enc: string | null;
  known_hosts: string | null;
  updated_by: string;
  updated_at: Timestamp;
}

/** A write-back job: one per promoted target of an environment with a Git target (migration 0022). */
export interface GitopsWritesTable {
  id: string;
  target_id: string;
  environment_id: string;
  state: GitWriteState;
  attempts: Generated<number>;
  run_after: Timestamp;
  lease_until: Timestamp | null;
  lease_token: Generated<number>;
  failing_since: Timestamp | null;
  last_error: string | null;
  commit_sha: string | null;
  branch: string | null;
  created_at: Timestamp;
  done_at: Timestamp | null;
}

/** A named set of (application, digest) pairs of one project, promoted together (migration 0021). */
export interface ReleasesTable {
  id: string;
  project_id: string;
  name: string;
  comment: string;
  source_env_id: string | null;
  created_by: string;
  created_at: Timestamp;
}

export interface ReleaseItemsTable {
  release_id: string;
  application_id: string;
  artifact_id: string;
  digest: string;
}

/** Every application of a release's promotion request, as the request saw it. */
export interface ReleaseRequestItemsTable {
  request_id: string;
  application_id: string;
  artifact_id: string;
  digest: string;
  source_tag: string | null;
}

/** The policy version each application's part of a release target was planned under. */
export interface ReleaseTargetPoliciesTable {
  target_id: string;
  application_id: string;
  policy_name: string;
  policy_version: number;
}

/** How far the runner got with a release target (`COPIED`: every image is in the target, no tag written yet). */
export interface ReleaseTargetPhasesTable {
  target_id: string;
  phase: 'COPIED';
  lease_token: number;
  at: Timestamp;
}

export interface Schema {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  login_failures: LoginFailuresTable;
  registries: RegistriesTable;
  projects: ProjectsTable;
  applications: ApplicationsTable;
  environments: EnvironmentsTable;
  pipeline_edges: PipelineEdgesTable;
  memberships: MembershipsTable;
  audit_log: AuditLogTable;
  artifacts: ArtifactsTable;
  artifact_locations: ArtifactLocationsTable;
  artifact_tags: ArtifactTagsTable;
  environment_holdings: EnvironmentHoldingsTable;
  policies: PoliciesTable;
  policy_versions: PolicyVersionsTable;
  policy_bindings: PolicyBindingsTable;
  promotion_requests: PromotionRequestsTable;
  promotion_targets: PromotionTargetsTable;
  promotion_decisions: PromotionDecisionsTable;
  webhooks: WebhooksTable;
  notification_deliveries: NotificationDeliveriesTable;
  hook_secrets: HookSecretsTable;
  push_events: PushEventsTable;
  rules: RulesTable;
  automation_firings: AutomationFiringsTable;
  bindings: BindingsTable;
  quarantine: QuarantineTable;
  watches: WatchesTable;
  namespace_grants: NamespaceGrantsTable;
  trust_roots: TrustRootsTable;
  migration_notes: MigrationNotesTable;
  idempotency_keys: IdempotencyKeysTable;
  named_leases: NamedLeasesTable;
  live_events: LiveEventsTable;
  sso_config: SsoConfigTable;
  sso_flows: SsoFlowsTable;
  sso_cli_codes: SsoCliCodesTable;
  environment_git_targets: EnvironmentGitTargetsTable;
  gitops_writes: GitopsWritesTable;
  releases: ReleasesTable;
  release_items: ReleaseItemsTable;
  release_request_items: ReleaseRequestItemsTable;
  release_target_policies: ReleaseTargetPoliciesTable;
  release_target_phases: ReleaseTargetPhasesTable;
  signing_keys: SigningKeysTable;
  attestation_jobs: AttestationJobsTable;
}

/** A key hoist signs promotion attestations with (migration 0023); retired keys stay listed for verification. */
export interface SigningKeysTable {
  /** `sha256:<hex>` of the public key's DER SubjectPublicKeyInfo. */
  key_id: string;
  algorithm: string;
  public_key: string;
  /** Sealed with the SecretBox when the key lives in the database; null for a key read from a file. */
  private_key_sealed: string | null;
  source: 'file' | 'database';
  created_at: Timestamp;
  retired_at: Timestamp | null;
}

/**
 * Attaching the signed attestation of one image a target promoted (migration 0027): a job on the leased queue, queued
 * with PROMOTED; the exact referrer pushed (or about to be) is kept on it under the job's fencing token.
 */
export interface AttestationJobsTable {
  id: string;
  target_id: string;
  application_id: string;
  artifact_id: string;
  digest: string;
  /** The repository at the target ({app} replaced), and the tag the promotion wrote there. */
  repository: string;
  tag: string | null;
  state: AttestationState;
  attempts: Generated<number>;
  run_after: Timestamp;
  lease_until: Timestamp | null;
  lease_token: Generated<number>;
  failing_since: Timestamp | null;
  last_error: string | null;
  created_at: Timestamp;
  attached_at: Timestamp | null;
  key_id: string | null;
  manifest_digest: string | null;
  /** sha256:<hex> of the promotion Statement (the next hop's `previous`). */
  statement_digest: string | null;
  /** {manifest, layers: [{mediaType, digest, size, annotations, bytes}]} with bytes in base64. */
  content: Json<StoredAttestation> | null;
  signed_at: Timestamp | null;
}

export type AttestationState = 'PENDING' | 'ATTACHING' | 'ATTACHED' | 'FAILED';

export interface StoredAttestation {
  manifest: string;
  layers: Array<{
    mediaType: string;
    digest: string;
    size: number;
    annotations?: Record<string, string>;
    bytes: string;
  }>;
}
