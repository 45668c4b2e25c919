/** What a running copy reports, for progress displays and logs. */
import type { BlobAction, CopyPlan } from './plan.ts';

export type CopyEvent =
  | { kind: 'planned'; plan: CopyPlan }
  | { kind: 'blob-start'; digest: string; size: number; action: BlobAction }
  | { kind: 'blob-bytes'; digest: string; bytes: number }
  | { kind: 'blob-retry'; digest: string; attempt: number; error: string }
  | { kind: 'blob-done'; digest: string; action: 'mounted' | 'streamed' }
  | { kind: 'manifest-pushed'; digest: string; mediaType: string }
  | { kind: 'tagged'; tag: string };

export type CopyListener = (event: CopyEvent) => void;
