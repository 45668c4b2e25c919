/**
 * Report documents to attach to test images as referrers: a Trivy vulnerability report with N critical findings and
 * an SPDX SBOM of named packages with their licences, as hoist's report readers (src/oci/attached-report.ts) take them.
 */
export const TRIVY = 'application/vnd.aquasec.trivy.report+json';

export const trivyReport = (critical: number): Buffer =>
  Buffer.from(
    JSON.stringify({
      SchemaVersion: 2,
      ArtifactName: 'web',
      Results: [
        {
          Target: 'web',
          Vulnerabilities: Array.from({ length: critical }, (_, i) => ({
            VulnerabilityID: `CVE-2026-${i}`,
            PkgName: `pkg${i}`,
            Severity: 'CRITICAL',
          })),
        },
      ],
    }),
  );

export const spdxSbom = (packages: Array<[name: string, licence: string]>): Buffer =>
  Buffer.from(
    JSON.stringify({
      spdxVersion: 'SPDX-2.3',
      packages: packages.map(([name, licence]) => ({ name, licenseConcluded: licence })),
    }),
  );
