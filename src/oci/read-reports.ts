/**
 * Reads the vulnerability report and SBOM attached to an image as referrers: for each referrer whose artifactType
 * is a report type, fetch its manifest and its (small) layer, and summarise it with the pure parsers in
 * attached-report.ts. A referrer that cannot be read or parsed is skipped; when several reports are attached, the
 * last one listed wins (registries list referrers oldest first).
 */
import { isReportType, parseAttachedReport, type SbomSummary, type ScanSummary } from './attached-report.ts';
import { parseManifest, type Descriptor } from './manifest.ts';
import type { RepositoryClient } from './registry-client.ts';

export const REPORT_LIMIT = 8 * 1024 * 1024;

export interface ImageReports {
  scan?: ScanSummary & { digest: string };
  sbom?: SbomSummary & { digest: string };
}

async function readBlob(repo: RepositoryClient, desc: Descriptor, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await repo.openBlob(desc, signal)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function readOne(repo: RepositoryClient, r: Descriptor, signal?: AbortSignal): Promise<ImageReports> {
  const m = await repo.getManifest(r.digest, signal);
  const parsed = parseManifest(m.bytes, m.mediaType, `referrer ${r.digest}`);
  if (parsed.kind !== 'image') return {};
  const type = r.artifactType ?? parsed.artifactType ?? parsed.config.mediaType;
  const out: ImageReports = {};
  for (const layer of parsed.layers) {
    if (layer.size > REPORT_LIMIT) continue;
    const report = parseAttachedReport(
      isReportType(layer.mediaType) ? layer.mediaType : type,
      await readBlob(repo, layer, signal),
    );
    if (!report) continue;
    if (report.kind !== 'sbom') out.scan = { ...report.scan, digest: r.digest };
    if (report.kind !== 'scan') out.sbom = { ...report.sbom, digest: r.digest };
  }
  return out;
}

export async function readReports(
  repo: RepositoryClient,
  referrers: readonly Descriptor[],
  signal?: AbortSignal,
): Promise<ImageReports> {
  const found: ImageReports = {};
  for (const r of referrers) {
    const type = r.artifactType ?? r.mediaType;
    if (!isReportType(type)) continue;
    const got = await readOne(repo, r, signal).catch((): ImageReports => ({}));
    if (got.scan) found.scan = got.scan;
    if (got.sbom) found.sbom = got.sbom;
  }
  return found;
}
