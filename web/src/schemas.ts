/**
 * The API's shapes as the console reads them, named after the OpenAPI components. Types only: they come from the
 * client generated from openapi.json (`npm run openapi`), so a change of the server's contract breaks the console's
 * typecheck instead of a screen at run time. Nothing of the server is bundled.
 */
import type { components, operations as Operations } from '../../src/client/openapi.ts';

type Schemas = components['schemas'];
export type Artifact = Schemas['Artifact'];
export type HistoryEntry = Schemas['HistoryEntry'];
export type Policy = Schemas['Policy'];
export type PolicyVariable = Schemas['PolicyVariable'];
export type PolicyEvaluation = Schemas['PolicyEvaluation'];
export type ExpressionCheck = Schemas['ExpressionCheck'];
export type ApplicationEnvironment = Schemas['ApplicationEnvironment'];
export type Environment = Schemas['Environment'];
export type Edge = Schemas['Edge'];
export type Rule = Schemas['Rule'];
export type RuleDryRun = Schemas['RuleDryRun'];
export type Binding = Schemas['Binding'];
export type Quarantine = Schemas['Quarantine'];
export type PushEvent = Schemas['PushEvent'];
export type Watch = Schemas['Watch'];
export type Registry = Schemas['Registry'];
export type ConnectionReport = Schemas['ConnectionReport'];
export type User = Schemas['User'];
export type Member = Schemas['Member'];
export type Webhook = Schemas['Webhook'];
export type Delivery = Schemas['Delivery'];
export type Window = Schemas['Window'];
export type Blocker = Schemas['Blocker'];

/** The JSON body of an operation's success answer (200 or 201), by operationId. */
export type Answer<Op extends keyof Operations> = Operations[Op]['responses'] extends infer R
  ? R extends { 200: { content: { 'application/json': infer T } } }
    ? T
    : R extends { 201: { content: { 'application/json': infer T } } }
      ? T
      : never
  : never;
export type PromotionPreview = Answer<'previewPromotion'>;
export type AffectedTarget = Answer<'previewPolicyChange'>['targets'][number];
