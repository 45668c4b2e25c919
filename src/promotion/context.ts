/**
 * What a promotion decision is made from: the facts of one project and application as loaded from the store by ids
 * in a few queries (src/store/promotion-context.query.ts). Plain data, no database handle: the planners in this
 * folder are pure functions of it, so every rule can be tested as a table.
 */
import type { PromotionWindow } from '../automation/window.ts';
import type { SbomColumn, ScanColumn, TargetState } from '../store/schema.ts';
import type { TrustResult } from '../trust/verify.ts';

export type { TargetState };

export interface EnvironmentFacts {
  id: string;
  name: string;
  position: number;
  /** An admin's gate: with no policy, promotions into it still need one approval. */
  protected: boolean;
  soakSeconds: number;
  windows: PromotionWindow[];
}

/** The rules of one policy version (Devtron's flag names). */
export interface PolicyFacts {
  name: string;
  version: number;
  passConditions: string[];
  failConditions: string[];
  approverCount: number;
  allowRequestFromApprove: boolean;
  allowImageBuilderFromApprove: boolean;
  allowApproverFromDeploy: boolean;
  allowSkipStages: boolean;
}

export interface BuildFacts {
  branch?: string;
  commit?: string;
  builder?: string;
  ciUrl?: string;
  labels?: Record<string, string>;
}

/** The image as registered: what policies see (field names as in the API's artifact view). */
export interface ArtifactFacts {
  digest: string;
  repository: string;
  tag: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  created: string | null;
  platforms: string[];
  referrers: Array<{ digest: string; mediaType: string; artifactType: string | null }>;
  scan: ScanColumn | null;
  sbom: SbomColumn | null;
  /** The verdict on its signatures and attestations (null or absent: never read). */
  trust?: TrustResult | null;
  build: BuildFacts;
}

export interface ArtifactInContext extends ArtifactFacts {
  id: string;
  /** Every tag it has been seen with, oldest first (`tag` is the first). */
  tags: string[];
  /** Where it is now, and since when. */
  locations: Array<{ environment: string; tag: string | null; since: Date }>;
  quarantine: { reason: string; by: string; at: Date } | null;
}

/** A person who may decide in the project (promoter or owner), with the environments their role is limited to. */
export interface DeciderFacts {
  username: string;
  role: 'owner' | 'promoter';
  /** null: every environment of the project. */
  environments: string[] | null;
}

export interface PromotionContext {
  project: { id: string; name: string };
  application: { id: string; name: string };
  /** Ordered by position. */
  environments: EnvironmentFacts[];
  /** Pipeline edges by environment name. */
  edges: Array<{ from: string; to: string }>;
  /** The policy in force for this application, by target environment name (absent: none applies). */
  policies: Record<string, PolicyFacts>;
  /** The artifact named by the request (null when it does not exist). */
  artifact: ArtifactInContext | null;
  /** The project's promoters and owners: who could approve (enabled users only). */
  deciders: DeciderFacts[];
  /** The project's webhooks (id, events wanted or null for all), so notices need no further lookup. */
  webhooks: Array<{ id: string; events: string[] | null }>;
}
