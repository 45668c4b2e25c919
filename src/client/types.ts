/**
 * Names for the API's shapes, all taken from the generated OpenAPI types: the resources (components) and the request
 * bodies and query strings of the operations the CLI sends.
 */
import type { components, operations } from './openapi.ts';

type Schemas = components['schemas'];
type JsonBody<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;
type Query<Op extends keyof operations> = operations[Op] extends { parameters: { query?: infer Q } }
  ? NonNullable<Q>
  : never;

export type Artifact = Schemas['Artifact'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditCheckpoint = JsonBody<'verifyAudit'> extends { checkpoint?: infer C } ? NonNullable<C> : never;
export type Binding = Schemas['Binding'];
export type ConnectionReport = Schemas['ConnectionReport'];
export type Delivery = Schemas['Delivery'];
export type Edge = Schemas['Edge'];
export type Environment = Schemas['Environment'];
export type HistoryEntry = Schemas['HistoryEntry'];
export type Me = Schemas['Me'];
export type Member = Schemas['Member'];
export type Membership = Schemas['Membership'];
export type Namespace = Schemas['Namespace'];
export type Policy = Schemas['Policy'];
export type SsoConfig = Schemas['SsoConfig'];
export type SsoInput = JsonBody<'putSso'>;
export type ApplicationEnvironment = Schemas['ApplicationEnvironment'];
export type Project = Schemas['Project'];
export type ProjectRole = Schemas['ProjectRole'];
export type Promotion = Schemas['Promotion'];
export type PromotionState = Schemas['PromotionState'];
export type PushEvent = Schemas['PushEvent'];
export type Quarantine = Schemas['Quarantine'];
export type Registry = Schemas['Registry'];
export type Release = Schemas['Release'];
export type Rule = Schemas['Rule'];
export type RuleDryRun = Schemas['RuleDryRun'];
export type TrustRoot = Schemas['TrustRoot'];
export type TrustVerdict = Schemas['TrustVerdict'];
export type SigstoreRootInput = Extract<JsonBody<'putTrustRoot'>, { sigstore: unknown }>['sigstore'];
export type RuleMode = Schemas['RuleMode'];
export type Target = Schemas['Target'];
export type Blocker = Schemas['Blocker'];
export type Token = Schemas['Token'];
export type User = Schemas['User'];
export type Verdict = Schemas['Verdict'];
export type Watch = Schemas['Watch'];
export type Webhook = Schemas['Webhook'];
export type Window = Schemas['Window'];

export type RegistryInput = { name: string } & JsonBody<'putRegistry'>;
export type EnvironmentInput = { name: string } & JsonBody<'putEnvironment'>;
export type GitTargetInput = JsonBody<'putGitTarget'>;
export type PolicyInput = { name: string } & JsonBody<'putPolicy'>;
export type RuleInput = JsonBody<'createRule'>;
export type BindingInput = JsonBody<'setBinding'>;
export type WebhookInput = JsonBody<'createWebhook'>;
export type PromotionInput = JsonBody<'requestPromotion'>;
export type ReleaseInput = JsonBody<'createRelease'>;
export type ReleasePromotionInput = JsonBody<'promoteRelease'>;
export type ArtifactInput = JsonBody<'registerArtifact'>;
export type HistoryQuery = Query<'listHistory'>;
export type AuditQuery = Query<'listAuditEntries'>;
export type PromotionQuery = Query<'listPromotions'>;
export type PushEventQuery = Query<'listPushEvents'>;
export type HookKind = operations['setHookSecret']['parameters']['path']['kind'];
