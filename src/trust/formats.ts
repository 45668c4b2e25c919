/**
 * The signed formats hoist reads, parsed from untrusted bytes: cosign's simple-signing payload (the "critical"
 * section of containers-signature(5): identity.docker-reference, image.docker-manifest-digest, type), the DSSE
 * envelope and its pre-authentication encoding, and in-toto Statements (v0.1 and v1). Parsers answer a value or
 * the reason the bytes are not one; nothing here decides trust (verify.ts does).
 */

export const COSIGN_SIGNATURE_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SIMPLE_SIGNING_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** The layer annotation holding the base64 signature over the layer's bytes. */
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
export const DSSE_ENVELOPE_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const IN_TOTO_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENTS = ['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1'];

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** An own property only: hostile keys never reach Object.prototype. */
const field = (v: unknown, key: string): unknown => (isObj(v) && Object.hasOwn(v, key) ? v[key] : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function json(bytes: Buffer, what: string): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch (e) {
    return { ok: false, error: `${what} is not JSON: ${(e as Error).message}` };
  }
}

export interface SimpleSigning {
  dockerReference: string;
  digest: string;
  type: string;
}

export function parseSimpleSigning(payload: Buffer): Parsed<SimpleSigning> {
  const doc = json(payload, 'the simple-signing payload');
  if (!doc.ok) return doc;
  const critical = field(doc.value, 'critical');
  const dockerReference = str(field(field(critical, 'identity'), 'docker-reference'));
  const digest = str(field(field(critical, 'image'), 'docker-manifest-digest'));
  const type = str(field(critical, 'type'));
  if (dockerReference === undefined || digest === undefined || type === undefined)
    return {
      ok: false,
      error:
        'the payload is no simple-signing payload (critical.identity.docker-reference, critical.image.docker-manifest-digest and critical.type are required)',
    };
  return { ok: true, value: { dockerReference, digest, type } };
}

export interface DsseEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: Array<{ keyid: string; sig: Buffer }>;
}

/** Base64 (standard or URL-safe, as the DSSE spec allows either) to bytes; undefined when it is not base64. */
export function fromBase64(text: string): Buffer | undefined {
  const clean = text.trim();
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) return undefined;
  return Buffer.from(clean.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function parseDsseEnvelope(bytes: Buffer): Parsed<DsseEnvelope> {
  const doc = json(bytes, 'the DSSE envelope');
  if (!doc.ok) return doc;
  const payloadType = str(field(doc.value, 'payloadType'));
  const payload = fromBase64(str(field(doc.value, 'payload')) ?? '!');
  const signatures = field(doc.value, 'signatures');
  if (payloadType === undefined || payload === undefined || !Array.isArray(signatures))
    return { ok: false, error: 'not a DSSE envelope (payloadType, payload and signatures are required)' };
  const sigs: DsseEnvelope['signatures'] = [];
  for (const s of signatures.slice(0, 16)) {
    const sig = fromBase64(str(field(s, 'sig')) ?? '!');
    if (sig !== undefined && sig.length > 0) sigs.push({ keyid: str(field(s, 'keyid')) ?? '', sig });
  }
  return { ok: true, value: { payloadType, payload, signatures: sigs } };
}

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body; LEN counts bytes, in ASCII decimal. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${payload.length} `, 'ascii'),
    payload,
  ]);
}

export interface Statement {
  predicateType: string;
  /** The subjects' sha256 digests, as `sha256:<hex>`. */
  subjects: string[];
  predicate: unknown;
}

export function parseStatement(payload: Buffer): Parsed<Statement> {
  const doc = json(payload, 'the in-toto statement');
  if (!doc.ok) return doc;
  const type = str(field(doc.value, '_type'));
  if (type === undefined || !IN_TOTO_STATEMENTS.includes(type))
    return { ok: false, error: `not an in-toto Statement (_type ${JSON.stringify(type ?? null)})` };
  const predicateType = str(field(doc.value, 'predicateType'));
  const subject = field(doc.value, 'subject');
  if (predicateType === undefined || !Array.isArray(subject))
    return { ok: false, error: 'the in-toto Statement has no predicateType or subject' };
  const subjects = subject
    .map((s) => str(field(field(s, 'digest'), 'sha256')))
    .filter((h): h is string => h !== undefined && /^[0-9a-f]{64}$/.test(h))
    .map((h) => `sha256:${h}`);
  return { ok: true, value: { predicateType, subjects, predicate: field(doc.value, 'predicate') } };
}

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';

export interface Provenance {
  builder: string;
  sourceRepo: string;
}

/**
 * Builder id and source repository from a SLSA provenance predicate. v1: runDetails.builder.id, and the source from
 * buildDefinition.externalParameters (workflow.repository of GitHub's build type, else source.uri / source), else the
 * first resolved dependency. v0.2: builder.id, and invocation.configSource.uri, else the first material.
 */
export function provenanceOf(predicateType: string, predicate: unknown): Provenance | undefined {
  if (predicateType === SLSA_PROVENANCE_V1) {
    const external = field(field(predicate, 'buildDefinition'), 'externalParameters');
    const deps = field(field(predicate, 'buildDefinition'), 'resolvedDependencies');
    const sourceRepo =
      str(field(field(external, 'workflow'), 'repository')) ??
      str(field(field(external, 'source'), 'uri')) ??
      str(field(external, 'source')) ??
      str(field(Array.isArray(deps) ? deps[0] : undefined, 'uri')) ??
      '';
    return { builder: str(field(field(field(predicate, 'runDetails'), 'builder'), 'id')) ?? '', sourceRepo };
  }
  if (predicateType === SLSA_PROVENANCE_V02) {
    const materials = field(predicate, 'materials');
    const sourceRepo =
      str(field(field(field(predicate, 'invocation'), 'configSource'), 'uri')) ??
      str(field(Array.isArray(materials) ? materials[0] : undefined, 'uri')) ??
      '';
    return { builder: str(field(field(predicate, 'builder'), 'id')) ?? '', sourceRepo };
  }
  return undefined;
}
