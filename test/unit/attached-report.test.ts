import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isReportType,
  MAX_ENTRIES,
  MAX_REPORT_BYTES,
  parseAttachedReport,
  type AttachedReport,
  type ScanSummary,
} from '../../src/oci/attached-report.ts';

const TRIVY = 'application/vnd.aquasec.trivy.report+json';
const GRYPE = 'application/vnd.anchore.grype+json';
const SARIF = 'application/sarif+json';
const CDX = 'application/vnd.cyclonedx+json';
const SPDX = 'application/spdx+json';
const JSON_TYPE = 'application/json';
const IN_TOTO = 'application/vnd.in-toto+json';
const DSSE = 'application/vnd.dsse.envelope.v1+json';

const bytes = (doc: unknown): Uint8Array =>
  new TextEncoder().encode(typeof doc === 'string' ? doc : JSON.stringify(doc));
const parse = (type: string, doc: unknown): AttachedReport | undefined => parseAttachedReport(type, bytes(doc));
const counts = (critical: number, high: number, medium: number, low: number, scanner?: string): ScanSummary =>
  scanner === undefined ? { critical, high, medium, low } : { critical, high, medium, low, scanner };

const trivyDoc = {
  SchemaVersion: 2,
  ArtifactName: 'registry.example/shop/web:v1',
  Trivy: { Version: '0.56.2' },
  Results: [
    {
      Target: 'web (debian 12.7)',
      Vulnerabilities: [
        { VulnerabilityID: 'CVE-2024-0001', PkgName: 'openssl', Severity: 'CRITICAL' },
        { VulnerabilityID: 'CVE-2024-0002', PkgName: 'zlib', Severity: 'HIGH' },
        { VulnerabilityID: 'CVE-2024-0003', PkgName: 'zlib', Severity: 'MEDIUM' },
        { VulnerabilityID: 'CVE-2024-0004', PkgName: 'bash', Severity: 'LOW' },
        { VulnerabilityID: 'CVE-2024-0005', PkgName: 'bash', Severity: 'UNKNOWN' },
      ],
    },
    {
      Target: 'app/package-lock.json',
      Vulnerabilities: [
        // The same vulnerability in the same package, found again in another target: counted once, at its worst.
        { VulnerabilityID: 'CVE-2024-0002', PkgName: 'zlib', Severity: 'CRITICAL' },
        // The same vulnerability in another package: a second finding.
        { VulnerabilityID: 'CVE-2024-0001', PkgName: 'libssl3', Severity: 'critical' },
      ],
    },
    { Target: 'clean', Class: 'os-pkgs' },
  ],
};

const grypeDoc = {
  matches: [
    { vulnerability: { id: 'CVE-1', severity: 'Critical' }, artifact: { name: 'openssl', version: '3.0.1' } },
    { vulnerability: { id: 'CVE-2', severity: 'High' }, artifact: { name: 'zlib' } },
    { vulnerability: { id: 'CVE-2', severity: 'High' }, artifact: { name: 'zlib' } },
    { vulnerability: { id: 'CVE-3', severity: 'Medium' }, artifact: { name: 'bash' } },
    { vulnerability: { id: 'CVE-4', severity: 'Low' }, artifact: { name: 'bash' } },
    { vulnerability: { id: 'CVE-5', severity: 'Negligible' }, artifact: { name: 'bash' } },
    { vulnerability: { id: 'CVE-6', severity: 'Unknown' }, artifact: { name: 'bash' } },
  ],
  source: { type: 'image', target: { userInput: 'shop/web:v1' } },
  descriptor: { name: 'grype', version: '0.82.0' },
};

const sarifDoc = {
  version: '2.1.0',
  $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
  runs: [
    {
      tool: {
        driver: {
          name: 'Trivy',
          version: '0.56.2',
          rules: [
            { id: 'CVE-A', properties: { 'security-severity': '9.8', tags: ['vulnerability', 'CRITICAL'] } },
            { id: 'CVE-B', properties: { 'security-severity': '7.5' } },
            { id: 'CVE-C', properties: { 'security-severity': 5.3 } },
            { id: 'CVE-D', properties: { 'security-severity': '2.1' } },
            { id: 'CVE-E', properties: { tags: ['security', 'HIGH'] } },
            { id: 'CVE-F', properties: { 'security-severity': '0.0' } },
            { id: 'RULE-G', defaultConfiguration: { level: 'note' } },
          ],
        },
      },
      results: [
        { ruleId: 'CVE-A', ruleIndex: 0, level: 'error', message: { text: 'a' } },
        { ruleId: 'CVE-B', ruleIndex: 1, level: 'error' },
        { ruleId: 'CVE-C', level: 'warning' }, // found by id
        { ruleId: 'CVE-D', ruleIndex: 3, level: 'note' },
        { ruleId: 'CVE-E', ruleIndex: 4, level: 'note' }, // the tag wins over the level
        { ruleId: 'CVE-F', ruleIndex: 5, level: 'error' }, // a score of 0 is not a finding
        { ruleId: 'RULE-G', ruleIndex: 6 }, // the rule's default level
        { ruleId: 'NO-RULE', level: 'error' }, // level only: error → high
        { ruleId: 'NO-RULE', level: 'warning' }, // warning → medium
        { ruleId: 'NO-RULE' }, // SARIF's default level is warning
        { ruleId: 'NO-RULE', level: 'none' },
        { ruleId: 'NO-RULE', level: 'error', kind: 'pass' }, // not a failure
        { ruleId: 'CVE-A', ruleIndex: 99, properties: { 'security-severity': '9.1' } }, // out-of-range index; result's own score
      ],
    },
    { tool: { driver: { name: 'other' } }, results: [{ level: 'error' }] },
  ],
};

const cdxSbom = {
  bomFormat: 'CycloneDX',
  specVersion: '1.5',
  metadata: {
    tools: { components: [{ type: 'application', name: 'syft', version: '1.14.0' }] },
    component: { name: 'shop/web' },
  },
  components: [
    { name: 'openssl', version: '3.0.1', licenses: [{ license: { id: 'Apache-2.0' } }] },
    {
      name: 'app',
      licenses: [{ expression: '(MIT OR GPL-2.0-only WITH Classpath-exception-2.0)' }],
      components: [
        { name: 'left-pad', licenses: [{ license: { name: 'WTFPL License' } }], components: [{ name: ' deep ' }] },
      ],
    },
    { name: 'openssl', version: '3.0.2', licenses: [{ license: { id: 'Apache-2.0' } }] },
  ],
};

const spdxDoc = {
  spdxVersion: 'SPDX-2.3',
  SPDXID: 'SPDXRef-DOCUMENT',
  name: 'shop/web',
  packages: [
    { name: 'openssl', licenseConcluded: 'Apache-2.0', licenseDeclared: 'Apache-2.0' },
    { name: 'zlib', licenseConcluded: 'NOASSERTION', licenseDeclared: 'Zlib' },
    { name: 'busybox', licenseConcluded: 'NONE', licenseDeclared: '(GPL-2.0-only AND BSD-3-Clause) OR MIT' },
    { name: 'java', licenseDeclared: 'GPL-2.0-only WITH Classpath-exception-2.0' },
    { name: 'zlib', licenseConcluded: 'LicenseRef-custom' },
  ],
};

const statement = (predicateType: string, predicate: unknown, type = 'https://in-toto.io/Statement/v0.1') => ({
  _type: type,
  subject: [{ name: 'registry.example/shop/web', digest: { sha256: 'a'.repeat(64) } }],
  predicateType,
  predicate,
});

const envelope = (payload: unknown, payloadType = IN_TOTO) => ({
  payloadType,
  payload: Buffer.from(JSON.stringify(payload)).toString('base64'),
  signatures: [{ keyid: '', sig: 'MEUCIQ==' }],
});

test('isReportType: scanner, SARIF, SBOM and generic JSON / in-toto / DSSE types, with parameters and any case', () => {
  for (const t of [
    TRIVY,
    'application/vnd.trivy.report+json',
    GRYPE,
    'application/vnd.anchore.grype.report+json',
    SARIF,
    CDX,
    'application/vnd.cyclonedx+json; version=1.5',
    SPDX,
    'text/spdx+json',
    'Application/SPDX+JSON',
    JSON_TYPE,
    'application/json; charset=utf-8',
    IN_TOTO,
    DSSE,
  ]) {
    assert.equal(isReportType(t), true, t);
  }
  for (const t of [
    '',
    'application/vnd.dev.cosign.artifact.sig.v1+json',
    'application/vnd.cncf.notary.signature',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.oci.empty.v1+json',
    'application/vnd.cyclonedx+xml',
    'text/spdx',
    'application/trivy+json',
    'application/vnd.aquasec.trivy.report+jsonx',
  ]) {
    assert.equal(isReportType(t), false, t);
  }
});

test('Trivy: counts per severity, each VulnerabilityID+PkgName once at its worst, UNKNOWN not counted', () => {
  assert.deepEqual(parse(TRIVY, trivyDoc), { kind: 'scan', scan: counts(3, 0, 1, 1, 'trivy 0.56.2') });
  assert.deepEqual(parse('application/vnd.trivy.report+json', trivyDoc), {
    kind: 'scan',
    scan: counts(3, 0, 1, 1, 'trivy 0.56.2'),
  });
  // A clean image: Trivy omits Results altogether.
  assert.deepEqual(parse(JSON_TYPE, { SchemaVersion: 2, ArtifactName: 'web' }), {
    kind: 'scan',
    scan: counts(0, 0, 0, 0, 'trivy'),
  });
  // Under its own media type a report need not carry SchemaVersion; a generic type needs it.
  assert.deepEqual(parse(TRIVY, { Results: [{ Vulnerabilities: [{ VulnerabilityID: 'X', Severity: 'HIGH' }] }] }), {
    kind: 'scan',
    scan: counts(0, 1, 0, 0, 'trivy'),
  });
  assert.equal(parse(JSON_TYPE, { Results: [] }), undefined);
});

test('Grype: counts per severity, each match once, Negligible and Unknown not counted', () => {
  assert.deepEqual(parse(GRYPE, grypeDoc), { kind: 'scan', scan: counts(1, 1, 1, 1, 'grype 0.82.0') });
  assert.deepEqual(parse(JSON_TYPE, grypeDoc), { kind: 'scan', scan: counts(1, 1, 1, 1, 'grype 0.82.0') });
  assert.deepEqual(parse(GRYPE, { matches: [] }), { kind: 'scan', scan: counts(0, 0, 0, 0, 'grype') });
  assert.equal(
    parse(JSON_TYPE, { matches: [] }),
    undefined,
    'a bare "matches" array is not enough under a generic type',
  );
});

test('SARIF: security-severity (CVSS) first, then severity tags, then the level; non-failures skipped', () => {
  // critical: A, A(9.1); high: B, E, NO-RULE error, other run's error; medium: C, NO-RULE warning, NO-RULE default; low: D, G.
  assert.deepEqual(parse(SARIF, sarifDoc), { kind: 'scan', scan: counts(2, 4, 3, 2, 'Trivy 0.56.2') });
  assert.deepEqual(parse(JSON_TYPE, sarifDoc), { kind: 'scan', scan: counts(2, 4, 3, 2, 'Trivy 0.56.2') });
  // Under the SARIF media type neither version nor $schema is required; under a generic one, one of them is.
  assert.deepEqual(parse(SARIF, { runs: [{ results: [{ level: 'error' }] }] }), {
    kind: 'scan',
    scan: counts(0, 1, 0, 0),
  });
  assert.equal(parse(JSON_TYPE, { runs: [] }), undefined);
});

test('CycloneDX SBOM: nested component names and licences (id, name, split expressions), de-duplicated and sorted', () => {
  assert.deepEqual(parse(CDX, cdxSbom), {
    kind: 'sbom',
    sbom: {
      components: ['app', 'deep', 'left-pad', 'openssl'],
      licenses: ['Apache-2.0', 'Classpath-exception-2.0', 'GPL-2.0-only', 'MIT', 'WTFPL License'],
      format: 'cyclonedx-1.5',
    },
  });
  assert.equal(parse('application/vnd.cyclonedx+json; version=1.5', cdxSbom)?.kind, 'sbom');
  assert.deepEqual(parse(CDX, { bomFormat: 'CycloneDX', specVersion: 'junk' }), {
    kind: 'sbom',
    sbom: { components: [], licenses: [], format: 'cyclonedx' },
  });
});

test('CycloneDX with rated vulnerabilities is also a scan: "both" with components, "scan" without; the worst rating counts', () => {
  const vulnerabilities = [
    {
      id: 'CVE-1',
      ratings: [
        { severity: 'medium', method: 'CVSSv2' },
        { severity: 'critical', method: 'CVSSv31' },
      ],
      affects: [{ ref: 'pkg:a' }],
    },
    { id: 'CVE-1', ratings: [{ severity: 'critical' }], affects: [{ ref: 'pkg:a' }] }, // listed twice: once
    { id: 'CVE-1', ratings: [{ severity: 'high' }], affects: [{ ref: 'pkg:b' }] }, // another package: a second finding
    { id: 'CVE-2', ratings: [{ method: 'CVSSv31', score: 7.5 }] }, // a score without a severity word
    { id: 'CVE-3', ratings: [{ method: 'OWASP', score: 9 }, { severity: 'low' }] }, // OWASP scores are not CVSS
    { id: 'CVE-4', ratings: [{ severity: 'info' }, { severity: 'none' }, { severity: 'unknown' }] },
  ];
  const tools = [{ vendor: 'aquasecurity', name: 'trivy', version: '0.56.2' }];
  const both = parse(CDX, { ...cdxSbom, metadata: { tools }, vulnerabilities });
  assert.deepEqual(both, {
    kind: 'both',
    scan: counts(1, 2, 0, 1, 'trivy 0.56.2'),
    sbom: {
      components: ['app', 'deep', 'left-pad', 'openssl'],
      licenses: ['Apache-2.0', 'Classpath-exception-2.0', 'GPL-2.0-only', 'MIT', 'WTFPL License'],
      format: 'cyclonedx-1.5',
    },
  });
  assert.deepEqual(parse(JSON_TYPE, { bomFormat: 'CycloneDX', specVersion: '1.6', vulnerabilities }), {
    kind: 'scan',
    scan: counts(1, 2, 0, 1),
  });
  // No ratings anywhere: only an SBOM (an empty vulnerability list does not claim a scan was run).
  assert.equal(parse(CDX, { ...cdxSbom, vulnerabilities: [] })?.kind, 'sbom');
  assert.equal(parse(CDX, { ...cdxSbom, vulnerabilities: [{ id: 'CVE-9' }] })?.kind, 'sbom');
});

test('SPDX 2.x: package names and licences, NOASSERTION/NONE skipped, expressions split into ids', () => {
  const want: AttachedReport = {
    kind: 'sbom',
    sbom: {
      components: ['busybox', 'java', 'openssl', 'zlib'],
      licenses: [
        'Apache-2.0',
        'BSD-3-Clause',
        'Classpath-exception-2.0',
        'GPL-2.0-only',
        'LicenseRef-custom',
        'MIT',
        'Zlib',
      ],
      format: 'spdx-2.3',
    },
  };
  assert.deepEqual(parse(SPDX, spdxDoc), want);
  assert.deepEqual(parse('text/spdx+json', spdxDoc), want);
  assert.deepEqual(parse(JSON_TYPE, spdxDoc), want);
  // What the test harness attaches as an SBOM: a document with no packages is an empty SBOM.
  assert.deepEqual(parse(SPDX, { spdxVersion: 'SPDX-2.3' }), {
    kind: 'sbom',
    sbom: { components: [], licenses: [], format: 'spdx-2.3' },
  });
  assert.equal(parse(SPDX, { hoistTestArtifact: '0123abcd' }), undefined);
  assert.equal(parse(SPDX, { spdxVersion: 'SPDX-3.0' }), undefined);
});

test('the content decides the format; the media type only decides whether it is read at all', () => {
  assert.equal(parse(SPDX, trivyDoc)?.kind, 'scan');
  assert.equal(parse(TRIVY, spdxDoc)?.kind, 'sbom');
  assert.equal(parse('application/vnd.oci.image.layer.v1.tar', trivyDoc), undefined);
  assert.equal(parse('application/vnd.dev.cosign.artifact.sig.v1+json', spdxDoc), undefined);
});

test('in-toto statements (v0.1 and v1): cosign vuln predicates wrapping Trivy or Grype, SPDX and CycloneDX predicates', () => {
  const vuln = 'https://cosign.sigstore.dev/attestation/vuln/v1';
  const trivyVuln = statement(vuln, {
    scanner: { uri: 'pkg:github/aquasecurity/trivy@abc', version: '0.56.2', result: trivyDoc },
  });
  assert.deepEqual(parse(IN_TOTO, trivyVuln), { kind: 'scan', scan: counts(3, 0, 1, 1, 'trivy 0.56.2') });
  const grypeVuln = statement(
    vuln,
    { scanner: { uri: 'pkg:github/anchore/grype', result: grypeDoc } },
    'https://in-toto.io/Statement/v1',
  );
  assert.deepEqual(parse(JSON_TYPE, grypeVuln), { kind: 'scan', scan: counts(1, 1, 1, 1, 'grype 0.82.0') });
  // The predicate's scanner names a result that does not name itself.
  const bare = statement(vuln, {
    scanner: {
      uri: 'pkg:github/example/scanner',
      version: '2',
      result: { runs: [{ results: [{ level: 'error' }] }], version: '2.1.0' },
    },
  });
  assert.deepEqual(parse(IN_TOTO, bare), { kind: 'scan', scan: counts(0, 1, 0, 0, 'pkg:github/example/scanner 2') });
  // A vuln predicate carries a scan, not an SBOM.
  assert.equal(parse(IN_TOTO, statement(vuln, { scanner: { result: spdxDoc } })), undefined);
  assert.equal(parse(IN_TOTO, statement(vuln, { scanner: { result: 'not a report' } })), undefined);

  assert.equal(parse(IN_TOTO, statement('https://spdx.dev/Document', spdxDoc))?.kind, 'sbom');
  assert.deepEqual(parse(IN_TOTO, statement('https://spdx.dev/Document/v2.3', spdxDoc)), parse(SPDX, spdxDoc));
  assert.deepEqual(parse(IN_TOTO, statement('https://cyclonedx.org/bom', cdxSbom)), parse(CDX, cdxSbom));
  assert.equal(
    parse(IN_TOTO, statement('https://slsa.dev/provenance/v0.2', trivyDoc)),
    undefined,
    'other predicates are not reports',
  );
  assert.equal(parse(IN_TOTO, statement('https://spdx.dev/Document', null)), undefined);
  assert.equal(
    parse(IN_TOTO, { ...statement('https://spdx.dev/Document', spdxDoc), _type: 'https://in-toto.io/Statement/v9' }),
    undefined,
  );
});

test('DSSE envelopes around in-toto statements (cosign attestations), whatever the outer media type', () => {
  const sbom = envelope(statement('https://spdx.dev/Document', spdxDoc));
  assert.deepEqual(parse(DSSE, sbom), parse(SPDX, spdxDoc));
  assert.deepEqual(parse(JSON_TYPE, sbom), parse(SPDX, spdxDoc));
  const scan = envelope(
    statement('https://cosign.sigstore.dev/attestation/vuln/v1', { scanner: { result: trivyDoc } }),
  );
  assert.deepEqual(parse(IN_TOTO, scan), { kind: 'scan', scan: counts(3, 0, 1, 1, 'trivy 0.56.2') });
  // URL-safe base64 decodes too.
  const urlSafe = { ...sbom, payload: sbom.payload.replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '') };
  assert.deepEqual(parse(DSSE, urlSafe), parse(SPDX, spdxDoc));
  // A payload that is not JSON, a payload type hoist does not read, a payload that is not a string.
  assert.equal(parse(DSSE, { ...sbom, payload: '!!!not base64!!!' }), undefined);
  assert.equal(parse(DSSE, envelope(statement('https://spdx.dev/Document', spdxDoc), 'text/plain')), undefined);
  assert.equal(parse(DSSE, { ...sbom, payload: 42 }), undefined);
  // Envelopes nested without end stop being unwrapped.
  let nested: unknown = spdxDoc;
  for (let i = 0; i < 6; i++) nested = envelope(nested, JSON_TYPE);
  assert.equal(parse(DSSE, nested), undefined);
  assert.deepEqual(parse(DSSE, envelope(envelope(spdxDoc, JSON_TYPE), JSON_TYPE)), parse(SPDX, spdxDoc));
});

test('licences and components: trimmed, capped at 256 characters, de-duplicated, sorted, at most 10000', () => {
  const long = 'x'.repeat(300);
  const report = parse(SPDX, {
    spdxVersion: 'SPDX-2.2',
    packages: [
      { name: '  zlib  ', licenseDeclared: ' MIT ' },
      { name: 'zlib', licenseDeclared: 'MIT AND mit' },
      { name: '   ' },
      { name: long },
      { name: `${'y'.repeat(255)}\u{1F600}` }, // never splits a surrogate pair
      { name: 'Zlib' },
    ],
  });
  assert.ok(report?.kind === 'sbom');
  assert.deepEqual(report.sbom.components, ['Zlib', 'x'.repeat(256), 'y'.repeat(255), 'zlib']);
  assert.deepEqual(report.sbom.licenses, ['MIT', 'mit']);
  assert.equal(report.sbom.format, 'spdx-2.2');

  const many = Array.from({ length: MAX_ENTRIES + 500 }, (_, i) => ({
    name: `pkg-${String(i).padStart(6, '0')}`,
    licenseDeclared: `LicenseRef-${i}`,
  }));
  const big = parse(SPDX, { spdxVersion: 'SPDX-2.3', packages: [...many, ...many] });
  assert.ok(big?.kind === 'sbom');
  assert.equal(big.sbom.components.length, MAX_ENTRIES);
  assert.equal(big.sbom.licenses.length, MAX_ENTRIES);
  assert.equal(big.sbom.components[0], 'pkg-000000');
  assert.deepEqual(big.sbom.components, [...big.sbom.components].sort());
});

test('hostile input: bad JSON, wrong shapes, nulls and junk are refused or skipped, never thrown', () => {
  for (const raw of ['', '{', 'null', '42', '"text"', '[]', '[{"Results":[]}]', '\u0000\u0001', '{"Results": [}']) {
    assert.equal(parseAttachedReport(TRIVY, bytes(raw)), undefined, JSON.stringify(raw));
  }
  assert.equal(parseAttachedReport(TRIVY, new Uint8Array([0xff, 0xfe, 0x00, 0x7b])), undefined);
  assert.equal(parse(TRIVY, { SchemaVersion: 2, ArtifactName: 'web', Results: 5 }), undefined);
  assert.equal(parse(TRIVY, { SchemaVersion: 2, Results: null }), undefined);
  assert.equal(parse(GRYPE, { matches: 'all of them' }), undefined);
  assert.equal(parse(SARIF, { version: '2.1.0', runs: {} }), undefined);
  assert.equal(parse(SPDX, { spdxVersion: 7 }), undefined);

  // Bad entries inside the lists are skipped; the good ones still count.
  const junk = [
    null,
    5,
    'CVE',
    [],
    {},
    { Severity: null },
    { VulnerabilityID: 7, Severity: ['HIGH'] },
    { __proto__: { Severity: 'CRITICAL' } },
  ];
  assert.deepEqual(
    parse(TRIVY, {
      SchemaVersion: 2,
      Results: [
        null,
        5,
        { Vulnerabilities: null },
        { Vulnerabilities: 'x' },
        { Vulnerabilities: [...junk, { VulnerabilityID: 'A', Severity: 'HIGH' }] },
      ],
    }),
    { kind: 'scan', scan: counts(0, 1, 0, 0, 'trivy') },
  );
  assert.deepEqual(
    parse(GRYPE, {
      descriptor: null,
      source: {},
      matches: [
        null,
        { vulnerability: null },
        { vulnerability: { severity: 'High' } },
        { vulnerability: { id: 1, severity: 3 } },
      ],
    }),
    {
      kind: 'scan',
      scan: counts(0, 1, 0, 0, 'grype'),
    },
  );
  // A bad index finds no rule; an unreadable score is ignored; a level that is not a string falls back to "warning".
  assert.deepEqual(
    parse(SARIF, {
      version: '2.1.0',
      runs: [
        null,
        {
          tool: null,
          results: [
            null,
            7,
            { ruleIndex: -1, level: 'error' },
            { ruleIndex: 0.5, properties: { 'security-severity': 'Infinity' }, level: 7 },
          ],
        },
      ],
    }),
    {
      kind: 'scan',
      scan: counts(0, 1, 1, 0),
    },
  );
  assert.deepEqual(
    parse(CDX, {
      bomFormat: 'CycloneDX',
      components: [null, 1, { name: 5, licenses: [null, { license: null }, { expression: 9 }] }, { components: 'x' }],
      vulnerabilities: null,
    }),
    {
      kind: 'sbom',
      sbom: { components: [], licenses: [], format: 'cyclonedx' },
    },
  );
  assert.deepEqual(
    parse(SPDX, {
      spdxVersion: 'SPDX-2.3',
      packages: [null, { name: null, licenseConcluded: {} }, { name: 'ok', licenseDeclared: '(((' }],
    }),
    {
      kind: 'sbom',
      sbom: { components: ['ok'], licenses: [], format: 'spdx-2.3' },
    },
  );
  // Keys that only exist on Object.prototype are never read as fields.
  assert.equal(parse(JSON_TYPE, '{"__proto__": {"spdxVersion": "SPDX-2.3"}}'), undefined);
});

test('hostile input: deep nesting, huge arrays and oversized documents', () => {
  // Components nested 100000 deep are walked without recursion.
  const levels = 100_000;
  const deep = `{"bomFormat":"CycloneDX","components":[${'{"name":"c","components":['.repeat(levels)}{"name":"bottom"}${']}'.repeat(levels)}]}`;
  assert.deepEqual(parseAttachedReport(CDX, bytes(deep)), {
    kind: 'sbom',
    sbom: { components: ['bottom', 'c'], licenses: [], format: 'cyclonedx' },
  });
  // Deeply nested junk where a report is expected.
  const depth = 200_000;
  assert.equal(parseAttachedReport(JSON_TYPE, bytes(`${'['.repeat(depth)}${']'.repeat(depth)}`)), undefined);
  const junkResults = `{"SchemaVersion":2,"Results":[${'['.repeat(depth)}${']'.repeat(depth)},{"Vulnerabilities":[{"VulnerabilityID":"A","Severity":"LOW"}]}]}`;
  assert.deepEqual(parseAttachedReport(TRIVY, bytes(junkResults)), { kind: 'scan', scan: counts(0, 0, 0, 1, 'trivy') });
  // A huge array of findings (just under 8 MiB) is counted.
  const vulns = Array.from({ length: 120_000 }, (_, i) => ({
    VulnerabilityID: `CVE-${i}`,
    PkgName: 'p',
    Severity: i % 2 === 0 ? 'LOW' : 'HIGH',
  }));
  const huge = bytes({ SchemaVersion: 2, Results: [{ Vulnerabilities: vulns }] });
  assert.ok(huge.byteLength > 6 * 1024 * 1024 && huge.byteLength <= MAX_REPORT_BYTES);
  assert.deepEqual(parseAttachedReport(TRIVY, huge), { kind: 'scan', scan: counts(0, 60_000, 0, 60_000, 'trivy') });
  // More than the 8 MiB a referrer layer may hold is refused unread.
  const oversized = new Uint8Array(MAX_REPORT_BYTES + 1).fill(0x20);
  oversized.set(bytes({ spdxVersion: 'SPDX-2.3' }));
  assert.equal(parseAttachedReport(SPDX, oversized), undefined);
  assert.equal(parseAttachedReport(SPDX, oversized.subarray(0, MAX_REPORT_BYTES))?.kind, 'sbom');
});

test('random junk in every format never throws and counts stay non-negative integers', () => {
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const keys = [
    'Results',
    'Vulnerabilities',
    'Severity',
    'VulnerabilityID',
    'matches',
    'vulnerability',
    'severity',
    'runs',
    'results',
    'level',
    'rules',
    'properties',
    'tags',
    'security-severity',
    'components',
    'licenses',
    'license',
    'expression',
    'name',
    'id',
    'packages',
    'licenseDeclared',
    'ratings',
    'score',
    'payload',
    'predicate',
    'scanner',
    'result',
  ];
  const leaves: unknown[] = [
    null,
    0,
    -1,
    1e308,
    'CRITICAL',
    'High',
    '9.8',
    'error',
    'MIT AND (',
    '',
    true,
    'x'.repeat(300),
  ];
  const junk = (depth: number): unknown => {
    const r = rand(depth > 4 ? 2 : 4);
    if (r <= 1) return leaves[rand(leaves.length)];
    if (r === 2) return Array.from({ length: rand(4) }, () => junk(depth + 1));
    return Object.fromEntries(Array.from({ length: rand(4) }, () => [keys[rand(keys.length)], junk(depth + 1)]));
  };
  const shells: Array<(x: unknown) => [string, unknown]> = [
    (x) => [TRIVY, { SchemaVersion: 2, Results: [x, { Vulnerabilities: [x] }] }],
    (x) => [GRYPE, { descriptor: x, matches: [x, { vulnerability: x, artifact: x }] }],
    (x) => [SARIF, { version: '2.1.0', runs: [x, { tool: { driver: { name: x, rules: [x] } }, results: [x] }] }],
    (x) => [
      CDX,
      {
        bomFormat: 'CycloneDX',
        specVersion: x,
        metadata: { tools: x },
        components: [x],
        vulnerabilities: [x, { ratings: [x] }],
      },
    ],
    (x) => [SPDX, { spdxVersion: 'SPDX-2.3', packages: [x, { name: x, licenseDeclared: x }] }],
    (x) => [IN_TOTO, statement('https://cosign.sigstore.dev/attestation/vuln/v1', { scanner: x })],
    (x) => [DSSE, { payloadType: IN_TOTO, payload: Buffer.from(JSON.stringify(x) ?? '').toString('base64') }],
    (x) => [JSON_TYPE, x],
  ];
  for (let i = 0; i < 3000; i++) {
    const shell = shells[i % shells.length];
    assert.ok(shell);
    const [type, doc] = shell(junk(0));
    const report = parse(type, doc);
    if (report === undefined || report.kind === 'sbom') continue;
    for (const n of [report.scan.critical, report.scan.high, report.scan.medium, report.scan.low])
      assert.ok(Number.isInteger(n) && n >= 0, JSON.stringify(doc));
  }
});
