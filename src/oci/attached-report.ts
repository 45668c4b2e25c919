/**
 * Summarises a vulnerability report or SBOM attached to an image as a referrer, for the policy engine: severity
 * counts from Trivy, Grype, SARIF 2.1 and CycloneDX vulnerability reports; licences and component names from
 * CycloneDX and SPDX 2.x SBOMs. Documents may arrive bare, as the predicate of an in-toto statement, or as a DSSE
 * envelope around such a statement (signatures are not verified here). The format is told by the content; the
 * media type only says whether the document is worth reading and loosens detection of its own format.
 *
 * Input is untrusted: nothing here throws, anything malformed at the top yields undefined, malformed entries inside
 * a list are skipped, nested structures are walked without recursion, and output lists are bounded.
 */

export interface ScanSummary {
  critical: number;
  high: number;
  medium: number;
  low: number;
  scanner?: string;
}

export interface SbomSummary {
  licenses: string[];
  components: string[];
  format: string;
}

export type AttachedReport =
  | { kind: 'scan'; scan: ScanSummary }
  | { kind: 'sbom'; sbom: SbomSummary }
  | { kind: 'both'; scan: ScanSummary; sbom: SbomSummary };

/** Larger documents are refused (the caller downloads at most this much). */
export const MAX_REPORT_BYTES = 8 * 1024 * 1024;
/** Most licences and most components kept (the first ones in sort order). */
export const MAX_ENTRIES = 10_000;
/** Longest licence or component name kept. */
export const MAX_STRING = 256;
/** How many envelopes/statements may wrap a document. */
const MAX_WRAPPING = 3;

type Format = 'trivy' | 'grype' | 'sarif' | 'cyclonedx' | 'spdx';
type TypeClass = Format | 'generic';
type Obj = Record<string, unknown>;

/** 0 = not counted (unknown, negligible, informational), 1 = low … 4 = critical. */
type Rank = 0 | 1 | 2 | 3 | 4;

// ---- media types --------------------------------------------------------------------------------------------

const EXACT_TYPES: ReadonlyMap<string, TypeClass> = new Map<string, TypeClass>([
  ['application/sarif+json', 'sarif'],
  ['application/vnd.sarif+json', 'sarif'],
  ['application/vnd.cyclonedx+json', 'cyclonedx'],
  ['application/spdx+json', 'spdx'],
  ['text/spdx+json', 'spdx'],
  ['application/vnd.spdx+json', 'spdx'],
  ['application/json', 'generic'],
  ['text/json', 'generic'],
  ['application/vnd.in-toto+json', 'generic'],
  ['application/vnd.dsse.envelope.v1+json', 'generic'],
]);

/** `application/vnd.<…>.trivy.<…>+json` and the same for grype; `application/vnd.in-toto.<…>+json`. */
const VENDOR_TYPE = /^application\/vnd(?:\.[a-z0-9-]+)*\.(trivy|grype)(?:\.[a-z0-9-]+)*\+json$/;
const IN_TOTO_TYPE = /^application\/vnd\.in-toto(?:\.[a-z0-9-]+)+\+json$/;

function classifyType(type: string): TypeClass | undefined {
  const bare = (type.split(';')[0] ?? '').trim().toLowerCase();
  const exact = EXACT_TYPES.get(bare);
  if (exact !== undefined) return exact;
  const vendor = VENDOR_TYPE.exec(bare)?.[1];
  if (vendor === 'trivy' || vendor === 'grype') return vendor;
  return IN_TOTO_TYPE.test(bare) ? 'generic' : undefined;
}

/** Whether an artifactType / layer media type is one hoist reads as a report (so the caller knows whether to download). */
export function isReportType(artifactTypeOrMediaType: string): boolean {
  return classifyType(artifactTypeOrMediaType) !== undefined;
}

// ---- reading untrusted JSON ---------------------------------------------------------------------------------

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An own property only: hostile keys never reach Object.prototype. */
function field(v: unknown, key: string): unknown {
  return isObj(v) && Object.hasOwn(v, key) ? v[key] : undefined;
}

function list(v: unknown, key: string): unknown[] {
  const x = field(v, key);
  return Array.isArray(x) ? x : [];
}

function text(v: unknown, key: string): string | undefined {
  const x = field(v, key);
  return typeof x === 'string' ? x : undefined;
}

function parseJson(bytes: Uint8Array): unknown {
  if (bytes.byteLength > MAX_REPORT_BYTES) return undefined;
  try {
    return JSON.parse(new TextDecoder('utf-8').decode(bytes));
  } catch {
    return undefined;
  }
}

/** Trimmed, at most MAX_STRING characters (never splitting a surrogate pair), or undefined when empty. */
function clean(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  let s = v.trim();
  if (s.length > MAX_STRING) {
    s = s.slice(0, MAX_STRING);
    if (/[\uD800-\uDBFF]$/.test(s)) s = s.slice(0, -1);
    s = s.trimEnd();
  }
  return s === '' ? undefined : s;
}

/** A de-duplicated, sorted, bounded set of names. */
class NameSet {
  private readonly names = new Set<string>();

  add(v: unknown): void {
    const s = clean(v);
    if (s !== undefined) this.names.add(s);
  }

  sorted(): string[] {
    return [...this.names].sort().slice(0, MAX_ENTRIES);
  }
}

// ---- severities ---------------------------------------------------------------------------------------------

const SEVERITY_WORDS: ReadonlyMap<string, Rank> = new Map<string, Rank>([
  ['critical', 4],
  ['high', 3],
  ['medium', 2],
  ['moderate', 2],
  ['low', 1],
]);

function severityRank(v: unknown): Rank {
  return typeof v === 'string' ? (SEVERITY_WORDS.get(v.trim().toLowerCase()) ?? 0) : 0;
}

/** A CVSS base score (number or decimal string) to a rank: ≥9 critical, ≥7 high, ≥4 medium, >0 low. */
function cvssRank(v: unknown): Rank | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(?:\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < 0) return undefined;
  return n >= 9 ? 4 : n >= 7 ? 3 : n >= 4 ? 2 : n > 0 ? 1 : 0;
}

/** Keeps the worst rank seen per finding, so a finding listed twice is counted once. */
class Findings {
  private readonly worst = new Map<string, Rank>();
  private anonymous = 0;

  /** `key` undefined: a finding with no identity, always counted on its own. */
  add(key: string | undefined, rank: Rank): void {
    const k = key ?? `\u0000${this.anonymous++}`;
    const seen = this.worst.get(k);
    if (seen === undefined || rank > seen) this.worst.set(k, rank);
  }

  summary(scanner: string | undefined): ScanSummary {
    const out: ScanSummary = { critical: 0, high: 0, medium: 0, low: 0 };
    for (const rank of this.worst.values()) {
      if (rank === 4) out.critical++;
      else if (rank === 3) out.high++;
      else if (rank === 2) out.medium++;
      else if (rank === 1) out.low++;
    }
    if (scanner !== undefined) out.scanner = scanner;
    return out;
  }
}

function scannerName(name: unknown, version: unknown): string | undefined {
  const n = clean(name);
  if (n === undefined) return undefined;
  const v = clean(version);
  return clean(v === undefined ? n : `${n} ${v}`);
}

// ---- Trivy --------------------------------------------------------------------------------------------------

/**
 * A versioned report (or any document under a Trivy media type) whose `Results` is an array, or absent (Trivy omits
 * it when there is nothing to report) from a report that names its artifact.
 */
function isTrivy(doc: Obj, hint: TypeClass | undefined): boolean {
  if (hint !== 'trivy' && typeof field(doc, 'SchemaVersion') !== 'number') return false;
  const results = field(doc, 'Results');
  return Array.isArray(results) || (results === undefined && typeof field(doc, 'ArtifactName') === 'string');
}

function trivyScan(doc: Obj): ScanSummary {
  const found = new Findings();
  for (const result of list(doc, 'Results')) {
    for (const v of list(result, 'Vulnerabilities')) {
      if (!isObj(v)) continue;
      const id = text(v, 'VulnerabilityID');
      found.add(
        id === undefined ? undefined : `${id}\u0000${text(v, 'PkgName') ?? ''}`,
        severityRank(field(v, 'Severity')),
      );
    }
  }
  return found.summary(scannerName('trivy', field(field(doc, 'Trivy'), 'Version')));
}

// ---- Grype --------------------------------------------------------------------------------------------------

function isGrype(doc: Obj, hint: TypeClass | undefined): boolean {
  if (!Array.isArray(field(doc, 'matches'))) return false;
  return hint === 'grype' || isObj(field(doc, 'descriptor')) || isObj(field(doc, 'source'));
}

function grypeScan(doc: Obj): ScanSummary {
  const found = new Findings();
  for (const m of list(doc, 'matches')) {
    const vuln = field(m, 'vulnerability');
    if (!isObj(vuln)) continue;
    const id = text(vuln, 'id');
    found.add(
      id === undefined ? undefined : `${id}\u0000${text(field(m, 'artifact'), 'name') ?? ''}`,
      severityRank(field(vuln, 'severity')),
    );
  }
  const descriptor = field(doc, 'descriptor');
  return found.summary(scannerName(text(descriptor, 'name') ?? 'grype', field(descriptor, 'version')));
}

// ---- SARIF --------------------------------------------------------------------------------------------------

function isSarif(doc: Obj, hint: TypeClass | undefined): boolean {
  if (!Array.isArray(field(doc, 'runs'))) return false;
  return hint === 'sarif' || field(doc, 'version') === '2.1.0' || /sarif/i.test(text(doc, '$schema') ?? '');
}

const LEVEL_RANKS: ReadonlyMap<string, Rank> = new Map<string, Rank>([
  ['error', 3],
  ['warning', 2],
  ['note', 1],
  ['none', 0],
]);

/** The rules of a run's driver (by index) and of the driver and its extensions (by id). */
function sarifRules(run: unknown): { byIndex: unknown[]; byId: Map<string, unknown> } {
  const tool = field(run, 'tool');
  const byIndex = list(field(tool, 'driver'), 'rules');
  const byId = new Map<string, unknown>();
  for (const component of [field(tool, 'driver'), ...list(tool, 'extensions')]) {
    for (const rule of list(component, 'rules')) {
      const id = text(rule, 'id');
      if (id !== undefined && !byId.has(id)) byId.set(id, rule);
    }
  }
  return { byIndex, byId };
}

function sarifRule(result: unknown, rules: { byIndex: unknown[]; byId: Map<string, unknown> }): unknown {
  const index = field(result, 'ruleIndex') ?? field(field(result, 'rule'), 'index');
  if (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < rules.byIndex.length)
    return rules.byIndex[index];
  const id = text(result, 'ruleId') ?? text(field(result, 'rule'), 'id');
  return id === undefined ? undefined : rules.byId.get(id);
}

/** The worst severity word among `properties.tags` (Trivy tags its rules "CRITICAL", "HIGH", …). */
function tagRank(properties: unknown): Rank | undefined {
  let worst: Rank | undefined;
  for (const tag of list(properties, 'tags')) {
    const rank = severityRank(tag);
    if (rank > 0 && (worst === undefined || rank > worst)) worst = rank;
  }
  return worst;
}

/** security-severity (CVSS), then severity tags, then level (result, else the rule's default, else "warning"). */
function sarifRank(result: unknown, rule: unknown): Rank {
  const props = field(result, 'properties');
  const ruleProps = field(rule, 'properties');
  const scored = cvssRank(field(props, 'security-severity')) ?? cvssRank(field(ruleProps, 'security-severity'));
  if (scored !== undefined) return scored;
  const tagged = tagRank(props) ?? tagRank(ruleProps);
  if (tagged !== undefined) return tagged;
  const level = text(result, 'level') ?? text(field(rule, 'defaultConfiguration'), 'level') ?? 'warning';
  return LEVEL_RANKS.get(level) ?? 0;
}

function sarifScan(doc: Obj): ScanSummary {
  const found = new Findings();
  for (const run of list(doc, 'runs')) {
    const rules = sarifRules(run);
    for (const result of list(run, 'results')) {
      if (!isObj(result)) continue;
      const kind = field(result, 'kind');
      if (kind !== undefined && kind !== 'fail') continue;
      found.add(undefined, sarifRank(result, sarifRule(result, rules)));
    }
  }
  const driver = field(field(list(doc, 'runs')[0], 'tool'), 'driver');
  return found.summary(
    scannerName(field(driver, 'name'), field(driver, 'version') ?? field(driver, 'semanticVersion')),
  );
}

// ---- licences -----------------------------------------------------------------------------------------------

const NO_LICENSE = /^(?:NOASSERTION|NONE)$/i;
const OPERATOR = /^(?:AND|OR|WITH)$/i;

/** The ids in a simple SPDX licence expression: "(MIT OR Apache-2.0) AND GPL-2.0 WITH x" → MIT, Apache-2.0, GPL-2.0, x. */
function addExpression(licenses: NameSet, expression: unknown): void {
  if (typeof expression !== 'string') return;
  for (const token of expression.split(/[\s()]+/)) {
    if (token !== '' && !OPERATOR.test(token) && !NO_LICENSE.test(token)) licenses.add(token);
  }
}

function versionedFormat(name: string, version: string | undefined): string {
  return version !== undefined && /^\d+(?:\.\d+){0,2}$/.test(version) ? `${name}-${version}` : name;
}

// ---- CycloneDX ----------------------------------------------------------------------------------------------

function isCycloneDx(doc: Obj, hint: TypeClass | undefined): boolean {
  return (
    field(doc, 'bomFormat') === 'CycloneDX' || (hint === 'cyclonedx' && typeof field(doc, 'specVersion') === 'string')
  );
}

/** Every component, however deeply nested, walked with an explicit stack. */
function cycloneDxComponents(doc: Obj): { components: NameSet; licenses: NameSet; count: number } {
  const components = new NameSet();
  const licenses = new NameSet();
  let count = 0;
  const stack: unknown[] = [...list(doc, 'components')];
  while (stack.length > 0) {
    const c = stack.pop();
    if (!isObj(c)) continue;
    count++;
    components.add(field(c, 'name'));
    for (const l of list(c, 'licenses')) {
      const license = field(l, 'license');
      licenses.add(text(license, 'id') ?? text(license, 'name'));
      addExpression(licenses, field(l, 'expression'));
    }
    for (const child of list(c, 'components')) stack.push(child);
  }
  return { components, licenses, count };
}

/** The worst of a vulnerability's ratings: its severity word, else a CVSS score. */
function ratingRank(rating: unknown): Rank {
  const word = severityRank(field(rating, 'severity'));
  if (word > 0) return word;
  return /^cvss/i.test(text(rating, 'method') ?? '') ? (cvssRank(field(rating, 'score')) ?? 0) : 0;
}

/** Undefined unless some vulnerability carries ratings: a BOM without them is only an SBOM. */
function cycloneDxScan(doc: Obj): ScanSummary | undefined {
  const found = new Findings();
  let rated = false;
  for (const v of list(doc, 'vulnerabilities')) {
    if (!isObj(v)) continue;
    const ratings = list(v, 'ratings');
    if (ratings.length > 0) rated = true;
    let worst: Rank = 0;
    for (const r of ratings) {
      const rank = ratingRank(r);
      if (rank > worst) worst = rank;
    }
    const id = text(v, 'id');
    const affects = list(v, 'affects')
      .map((a) => text(a, 'ref') ?? '')
      .sort()
      .join('\u0000');
    found.add(id === undefined ? undefined : `${id}\u0000${affects}`, worst);
  }
  return rated ? found.summary(cycloneDxTool(doc)) : undefined;
}

/** The first tool in metadata.tools (CycloneDX ≤1.4: an array; 1.5+: {components, services}). */
function cycloneDxTool(doc: Obj): string | undefined {
  const tools = field(field(doc, 'metadata'), 'tools');
  const first = Array.isArray(tools) ? tools[0] : list(tools, 'components')[0];
  return scannerName(field(first, 'name'), field(first, 'version'));
}

function cycloneDxReport(doc: Obj): AttachedReport {
  const walked = cycloneDxComponents(doc);
  const sbom: SbomSummary = {
    licenses: walked.licenses.sorted(),
    components: walked.components.sorted(),
    format: versionedFormat('cyclonedx', text(doc, 'specVersion')),
  };
  const scan = cycloneDxScan(doc);
  if (scan === undefined) return { kind: 'sbom', sbom };
  return walked.count > 0 ? { kind: 'both', scan, sbom } : { kind: 'scan', scan };
}

// ---- SPDX ---------------------------------------------------------------------------------------------------

function isSpdx(doc: Obj): boolean {
  return /^SPDX-2\./.test(text(doc, 'spdxVersion') ?? '');
}

function spdxSbom(doc: Obj): SbomSummary {
  const components = new NameSet();
  const licenses = new NameSet();
  for (const p of list(doc, 'packages')) {
    if (!isObj(p)) continue;
    components.add(field(p, 'name'));
    addExpression(licenses, field(p, 'licenseConcluded'));
    addExpression(licenses, field(p, 'licenseDeclared'));
  }
  const version = /^SPDX-(\d+\.\d+)$/.exec(text(doc, 'spdxVersion') ?? '')?.[1];
  return { licenses: licenses.sorted(), components: components.sorted(), format: versionedFormat('spdx', version) };
}

// ---- wrappers: DSSE envelopes and in-toto statements --------------------------------------------------------

const STATEMENT_TYPE = /^https:\/\/in-toto\.io\/Statement\/v(?:0\.1|1(?:\.0)?)$/;
const VULN_PREDICATE = /^https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\//;
const SPDX_PREDICATE = /^https:\/\/spdx\.dev\/Document/;
const CYCLONEDX_PREDICATE = /^https:\/\/cyclonedx\.org\/bom/;

function isDsse(doc: Obj): boolean {
  return typeof field(doc, 'payloadType') === 'string' && typeof field(doc, 'payload') === 'string';
}

function fromDsse(doc: Obj, depth: number): AttachedReport | undefined {
  const hint = classifyType(text(doc, 'payloadType') ?? '');
  if (hint === undefined) return undefined;
  const payload = Buffer.from(text(doc, 'payload') ?? '', 'base64');
  return fromDocument(parseJson(payload), hint, depth + 1);
}

function isStatement(doc: Obj): boolean {
  return STATEMENT_TYPE.test(text(doc, '_type') ?? '');
}

/** A cosign vuln predicate wraps the scanner's own report in scanner.result; its scanner.uri names the scanner. */
function fromVulnPredicate(predicate: unknown, depth: number): AttachedReport | undefined {
  const scanner = field(predicate, 'scanner');
  const inner = fromDocument(field(scanner, 'result'), undefined, depth + 1);
  if (inner === undefined || inner.kind === 'sbom') return undefined;
  const name = inner.scan.scanner ?? scannerName(field(scanner, 'uri'), field(scanner, 'version'));
  return { kind: 'scan', scan: name === undefined ? inner.scan : { ...inner.scan, scanner: name } };
}

function fromStatement(doc: Obj, depth: number): AttachedReport | undefined {
  const predicateType = text(doc, 'predicateType') ?? '';
  const predicate = field(doc, 'predicate');
  if (VULN_PREDICATE.test(predicateType)) return fromVulnPredicate(predicate, depth);
  if (SPDX_PREDICATE.test(predicateType)) return fromDocument(predicate, 'spdx', depth + 1);
  if (CYCLONEDX_PREDICATE.test(predicateType)) return fromDocument(predicate, 'cyclonedx', depth + 1);
  return undefined;
}

// ---- dispatch -----------------------------------------------------------------------------------------------

function detectFormat(doc: Obj, hint: TypeClass | undefined): Format | undefined {
  if (isSpdx(doc)) return 'spdx';
  if (isCycloneDx(doc, hint)) return 'cyclonedx';
  if (isSarif(doc, hint)) return 'sarif';
  if (isTrivy(doc, hint)) return 'trivy';
  if (isGrype(doc, hint)) return 'grype';
  return undefined;
}

function fromFormat(format: Format, doc: Obj): AttachedReport {
  switch (format) {
    case 'trivy':
      return { kind: 'scan', scan: trivyScan(doc) };
    case 'grype':
      return { kind: 'scan', scan: grypeScan(doc) };
    case 'sarif':
      return { kind: 'scan', scan: sarifScan(doc) };
    case 'cyclonedx':
      return cycloneDxReport(doc);
    case 'spdx':
      return { kind: 'sbom', sbom: spdxSbom(doc) };
  }
}

function fromDocument(doc: unknown, hint: TypeClass | undefined, depth: number): AttachedReport | undefined {
  if (!isObj(doc) || depth > MAX_WRAPPING) return undefined;
  if (isDsse(doc)) return fromDsse(doc, depth);
  if (isStatement(doc)) return fromStatement(doc, depth);
  const format = detectFormat(doc, hint);
  return format === undefined ? undefined : fromFormat(format, doc);
}

/**
 * Parse a report document. `type` is the referrer's artifactType (or its layer's media type). Returns undefined for
 * a document that is not a report hoist understands. Never throws on hostile input (bad JSON, wrong shapes, huge
 * arrays): returns undefined or ignores the bad entries.
 */
export function parseAttachedReport(type: string, bytes: Uint8Array): AttachedReport | undefined {
  const hint = classifyType(type);
  if (hint === undefined) return undefined;
  try {
    return fromDocument(parseJson(bytes), hint, 0);
  } catch {
    // Every reader above checks shapes before use; this only guards against the unforeseen (e.g. a RangeError).
    return undefined;
  }
}
