// Signatures and attestations as cosign writes them, made here with node:crypto and no hoist code, so hoist's
// verifier is checked against the wire formats rather than against itself:
// - a key-based cosign signature: a simple-signing payload (containers-signature(5), serialised as Go's
//   encoding/json does: keys in struct order, no spaces) as a layer of type
//   application/vnd.dev.cosign.simplesigning.v1+json, the base64 signature over the payload bytes in the layer
//   annotation dev.cosignproject.cosign/signature; pushed as an OCI 1.1 referrer (artifactType
//   application/vnd.dev.cosign.artifact.sig.v1+json) or under older cosign's `sha256-<hex>.sig` tag;
// - an attestation: an in-toto Statement in a DSSE envelope (signature over PAE(payloadType, payload)), a layer of
//   type application/vnd.dsse.envelope.v1+json with a predicateType annotation, as `cosign attest` writes it.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { blobOf, descriptorOf, manifestOf, MediaTypes, type TestManifest } from './images.ts';

export const COSIGN_SIG_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json';
export const IN_TOTO = 'application/vnd.in-toto+json';

export type KeyKind = 'ecdsa' | 'ed25519' | 'rsa';

export interface TestKey {
  privateKey: KeyObject;
  /** PEM (SPKI), as `cosign generate-key-pair` writes cosign.pub. */
  publicPem: string;
  kind: KeyKind;
}

export function generateKey(kind: KeyKind = 'ecdsa'): TestKey {
  const pair =
    kind === 'ecdsa'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: pair.privateKey,
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    kind,
  };
}

/** ECDSA signatures ASN.1 DER over SHA-256 (as Go's ecdsa.SignASN1), Ed25519 over the message, RSA PKCS#1 v1.5. */
export function signBytes(key: TestKey, message: Buffer): Buffer {
  if (key.kind === 'ed25519') return sign(null, message, key.privateKey);
  if (key.kind === 'ecdsa') return sign('sha256', message, { key: key.privateKey, dsaEncoding: 'der' });
  return sign('sha256', message, key.privateKey);
}

export function simpleSigningPayload(dockerReference: string, digest: string, optional: object | null = null): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional,
    }),
  );
}

export interface SignOptions {
  /** host/repository the signature is made for (cosign: the reference's repository). */
  dockerReference: string;
  /** The digest the payload names; default the subject's. */
  digest?: string;
  /** Change the payload after signing it. */
  tamper?: boolean;
}

function signatureLayer(subjectDigest: string, key: TestKey, o: SignOptions) {
  let payload = simpleSigningPayload(o.dockerReference, o.digest ?? subjectDigest);
  const signature = signBytes(key, payload).toString('base64');
  // Same identity and digest, one field more: only the signature can tell.
  if (o.tamper) payload = simpleSigningPayload(o.dockerReference, o.digest ?? subjectDigest, { tampered: 'yes' });
  const layer = blobOf(payload, SIMPLE_SIGNING);
  return {
    layer,
    descriptor: { ...descriptorOf(layer), annotations: { 'dev.cosignproject.cosign/signature': signature } },
  };
}

/** A cosign signature as an OCI 1.1 referrer of `subject` (push with pushReferrer). */
export function cosignSignature(subject: TestManifest, key: TestKey, o: SignOptions): TestManifest {
  const empty = blobOf(Buffer.from('{}'), MediaTypes.ociEmpty);
  const { layer, descriptor } = signatureLayer(subject.digest, key, o);
  const content = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: COSIGN_SIG_ARTIFACT,
    config: descriptorOf(empty),
    layers: [descriptor],
    subject: descriptorOf(subject),
  };
  return manifestOf(content, MediaTypes.ociManifest, { blobs: [empty, layer] });
}

/** A cosign signature image as older cosign tags it (`sha256-<hex>.sig`; push with pushImage and that tag). */
export function cosignSignatureImage(subject: TestManifest, key: TestKey, o: SignOptions): TestManifest {
  const config = blobOf(
    Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [] } })),
    MediaTypes.ociConfig,
  );
  const { layer, descriptor } = signatureLayer(subject.digest, key, o);
  const content = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: descriptorOf(config),
    layers: [descriptor],
  };
  return manifestOf(content, MediaTypes.ociManifest, { blobs: [config, layer] });
}

export const signatureTag = (subject: TestManifest): string => `${subject.digest.replace(':', '-')}.sig`;

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in bytes. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export function slsaProvenanceV1(builder: string, repository: string): object {
  return {
    buildDefinition: {
      buildType: 'https://actions.github.io/buildtypes/workflow/v1',
      externalParameters: { workflow: { ref: 'refs/heads/main', repository, path: '.github/workflows/build.yml' } },
      resolvedDependencies: [{ uri: `git+${repository}@refs/heads/main`, digest: { gitCommit: 'c0ffee' } }],
    },
    runDetails: { builder: { id: builder }, metadata: { invocationId: 'https://ci.example/run/1' } },
  };
}

export function slsaProvenanceV02(builder: string, repository: string): object {
  return {
    builder: { id: builder },
    buildType: 'https://github.com/slsa-framework/slsa-github-generator/container@v1',
    invocation: { configSource: { uri: `git+${repository}@refs/heads/main`, entryPoint: 'build.yml' } },
    materials: [{ uri: `git+${repository}`, digest: { sha1: 'c0ffee' } }],
  };
}

export interface AttestOptions {
  predicateType: string;
  predicate: object;
  /** host/repository, the subject's name. */
  name: string;
  /** The subject digest; default the subject's. */
  digest?: string;
  tamper?: boolean;
  statementType?: string;
}

/** The DSSE envelope bytes of an in-toto Statement about `digest`. */
export function dsseEnvelope(digest: string, key: TestKey, o: AttestOptions): Buffer {
  const statement = (predicate: object) =>
    Buffer.from(
      JSON.stringify({
        _type: o.statementType ?? 'https://in-toto.io/Statement/v1',
        subject: [{ name: o.name, digest: { sha256: (o.digest ?? digest).replace(/^sha256:/, '') } }],
        predicateType: o.predicateType,
        predicate,
      }),
    );
  const signed = statement(o.predicate);
  const sig = signBytes(key, pae(IN_TOTO, signed));
  const payload = o.tamper ? statement({ ...o.predicate, tampered: true }) : signed;
  return Buffer.from(
    JSON.stringify({
      payloadType: IN_TOTO,
      payload: payload.toString('base64'),
      signatures: [
        { keyid: createHash('sha256').update(key.publicPem).digest('hex').slice(0, 16), sig: sig.toString('base64') },
      ],
    }),
  );
}

/** An attestation as an OCI 1.1 referrer of `subject`. */
export function attestation(subject: TestManifest, key: TestKey, o: AttestOptions): TestManifest {
  const empty = blobOf(Buffer.from('{}'), MediaTypes.ociEmpty);
  const layer = blobOf(dsseEnvelope(subject.digest, key, o), DSSE_ENVELOPE);
  const content = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: DSSE_ENVELOPE,
    config: descriptorOf(empty),
    layers: [{ ...descriptorOf(layer), annotations: { predicateType: o.predicateType } }],
    subject: descriptorOf(subject),
  };
  return manifestOf(content, MediaTypes.ociManifest, { blobs: [empty, layer] });
}
