/** The promotion shapes the console reads: the API's own (generated from the OpenAPI document), one definition. */
import type { components } from '../../src/client/openapi.ts';

type Schemas = components['schemas'];
export type Promotion = Schemas['Promotion'];
export type Target = Schemas['Target'];
export type TargetState = Schemas['PromotionState'];
export type TimelineStep = Schemas['TimelineStep'];

export const FINAL: readonly TargetState[] = ['PROMOTED', 'REJECTED', 'CANCELED', 'STALE', 'FAILED'];
