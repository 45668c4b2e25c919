// Sigstore bundles as cosign attaches them to an image, made here without hoist's code: a Fulcio-like CA whose
// leaf certificates carry the OIDC issuer extension (1.3.6.1.4.1.57264.1.8) and a URI SAN, with an embedded SCT from
// a CT log, and a Rekor-like transparency log that answers a signed entry timestamp and an inclusion proof with a
// signed checkpoint. The CA, CT log and log are @sigstore/mock's (Sigstore's own test double for its services, used
// here in-process with no HTTP and no network: only its certificate and log builders are imported, not its nock
// handlers), so hoist's verifier is checked against certificates and log entries another implementation made.
//
// A bundle (v0.3) holds either a message signature over the image manifest's bytes (a hashedrekord log entry), or a
// DSSE envelope of an in-toto Statement about the image's digest (a dsse log entry). `trustedRoot()` writes the
// trusted_root.json a user would give hoist for this CA and these logs. Checks exercised: certificate chain, SCT,
// log inclusion promise and proof, log body against the bundle, signature, and (in hoist) identity and subject.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { blobOf, descriptorOf, manifestOf, MediaTypes, type TestManifest } from './images.ts';
import { pae } from './cosign.ts';

// Deep imports: @sigstore/mock's index also loads nock, which patches node:http.
type CA = { rootCertificate: Uint8Array; issueCertificate(o: object): Promise<Uint8Array> };
type CTLog = { publicKey: Buffer; logID: Uint8Array };
type LogEntry = Record<
  string,
  {
    body: string;
    integratedTime: number;
    logID: string;
    logIndex: number;
    verification: {
      signedEntryTimestamp: string;
      inclusionProof: { logIndex: number; rootHash: string; treeSize: number; hashes: string[]; checkpoint: string };
    };
  }
>;
type TLog = { publicKey: Buffer; log(entry: object): Promise<LogEntry> };
type KeyPair = { publicKey: KeyObject; privateKey: KeyObject };
const { initializeCA } = (await import('@sigstore/mock/dist/fulcio/ca.js' as string)) as {
  initializeCA(keys: KeyPair, ct?: CTLog): Promise<CA>;
};
const { initializeCTLog } = (await import('@sigstore/mock/dist/fulcio/ctlog.js' as string)) as {
  initializeCTLog(keys: KeyPair): Promise<CTLog>;
};
const { initializeTLog } = (await import('@sigstore/mock/dist/rekor/tlog.js' as string)) as {
  initializeTLog(url: string, keys: KeyPair): Promise<TLog>;
};

export const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO = 'application/vnd.in-toto+json';
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

const p256 = (): KeyPair => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${b64(der)
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;

export interface TestSigstore {
  ca: CA;
  ctlog: CTLog;
  tlog: TLog;
  /** The trusted_root.json text for this CA, CT log and transparency log. */
  trustedRoot(): string;
}

export async function startSigstore(): Promise<TestSigstore> {
  const ctlog = await initializeCTLog(p256());
  const ca = await initializeCA(p256(), ctlog);
  const tlog = await initializeTLog('https://rekor.test', p256());
  const start = new Date(Date.now() - 3600_000).toISOString();
  const key = (raw: Buffer) => ({ rawBytes: b64(raw), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } });
  const trustedRoot = JSON.stringify(
    {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [
        {
          baseUrl: 'https://rekor.test',
          hashAlgorithm: 'SHA2_256',
          publicKey: key(tlog.publicKey),
          logId: { keyId: createHash('sha256').update(tlog.publicKey).digest('base64') },
        },
      ],
      certificateAuthorities: [
        {
          subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
          uri: 'https://fulcio.test',
          certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
          validFor: { start },
        },
      ],
      ctlogs: [
        {
          baseUrl: 'https://ct.test',
          hashAlgorithm: 'SHA2_256',
          publicKey: key(ctlog.publicKey),
          logId: { keyId: b64(ctlog.logID) },
        },
      ],
      timestampAuthorities: [],
    },
    null,
    2,
  );
  return { ca, ctlog, tlog, trustedRoot: () => trustedRoot };
}

export interface BundleOptions {
  issuer?: string;
  subject: string;
  /** Change the signature after logging it. */
  tamperSignature?: boolean;
}

async function certificateFor(s: TestSigstore, signer: KeyPair, o: BundleOptions): Promise<Uint8Array> {
  return s.ca.issueCertificate({
    publicKey: signer.publicKey.export({ type: 'spki', format: 'der' }),
    subjectAltName: o.subject,
    extensions: [{ oid: '1.3.6.1.4.1.57264.1.8', value: o.issuer ?? GITHUB_ISSUER }],
  });
}

async function logged(s: TestSigstore, kind: 'hashedrekord' | 'dsse', proposed: object) {
  const entry = Object.values(await s.tlog.log(proposed))[0]!;
  const proof = entry.verification.inclusionProof;
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: Buffer.from(entry.logID, 'hex').toString('base64') },
    kindVersion: { kind, version: '0.0.1' },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
    inclusionProof: {
      logIndex: String(proof.logIndex),
      rootHash: Buffer.from(proof.rootHash, 'hex').toString('base64'),
      treeSize: String(proof.treeSize),
      hashes: proof.hashes,
      checkpoint: { envelope: proof.checkpoint },
    },
    canonicalizedBody: entry.body,
  };
}

const tampered = (sig: Buffer): Buffer => {
  const copy = Buffer.from(sig);
  copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 1;
  return copy;
};

/** A message-signature bundle over `message` (an image's manifest bytes), as `cosign sign --new-bundle-format`. */
export async function messageBundle(s: TestSigstore, message: Buffer, o: BundleOptions): Promise<Buffer> {
  const signer = p256();
  const cert = await certificateFor(s, signer, o);
  const digest = createHash('sha256').update(message).digest();
  const signature = sign('sha256', message, signer.privateKey);
  const entry = await logged(s, 'hashedrekord', {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: signature.toString('base64'), publicKey: { content: b64(Buffer.from(pem(cert))) } },
    },
  });
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_TYPE,
      verificationMaterial: { certificate: { rawBytes: b64(cert) }, tlogEntries: [entry] },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') },
        signature: (o.tamperSignature ? tampered(signature) : signature).toString('base64'),
      },
    }),
  );
}

/** A DSSE bundle of an in-toto Statement about `digest` (an attestation, as `cosign attest --new-bundle-format`). */
export async function dsseBundle(
  s: TestSigstore,
  digest: string,
  statement: { predicateType: string; predicate: object; name: string },
  o: BundleOptions,
): Promise<Buffer> {
  const signer = p256();
  const cert = await certificateFor(s, signer, o);
  const payload = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: statement.name, digest: { sha256: digest.replace(/^sha256:/, '') } }],
      predicateType: statement.predicateType,
      predicate: statement.predicate,
    }),
  );
  const signature = sign('sha256', pae(IN_TOTO, payload), signer.privateKey);
  const envelope = {
    payloadType: IN_TOTO,
    payload: payload.toString('base64'),
    signatures: [{ keyid: '', sig: signature.toString('base64') }],
  };
  const entry = await logged(s, 'dsse', {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: createHash('sha256').update(JSON.stringify(envelope)).digest('hex') },
      payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
      signatures: [{ signature: signature.toString('base64'), verifier: b64(Buffer.from(pem(cert))) }],
    },
  });
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_TYPE,
      verificationMaterial: { certificate: { rawBytes: b64(cert) }, tlogEntries: [entry] },
      dsseEnvelope: {
        ...envelope,
        signatures: [{ keyid: '', sig: (o.tamperSignature ? tampered(signature) : signature).toString('base64') }],
      },
    }),
  );
}

/** A bundle as an OCI 1.1 referrer of `subject` (cosign's BUNDLE_SPEC layout; push with pushReferrer). */
export function bundleReferrer(subject: TestManifest, bundle: Buffer): TestManifest {
  const empty = blobOf(Buffer.from('{}'), MediaTypes.ociEmpty);
  const layer = blobOf(bundle, BUNDLE_TYPE);
  const content = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: BUNDLE_TYPE,
    config: descriptorOf(empty),
    layers: [{ ...descriptorOf(layer), annotations: { 'org.opencontainers.image.title': 'bundle.sigstore.json' } }],
    subject: descriptorOf(subject),
  };
  return manifestOf(content, MediaTypes.ociManifest, { blobs: [empty, layer] });
}
