/**
 * Trust-root keys: a PEM public key a project trusts, read once into a node:crypto KeyObject, and the one check of a
 * signature against it. Only the key types cosign and DSSE signers make are accepted: ECDSA P-256 (signatures
 * ASN.1 DER over SHA-256, as cosign writes them), Ed25519 (over the message itself) and RSA of 2048 bits or more
 * (PKCS#1 v1.5 over SHA-256, then PSS, the two RSA schemes sigstore's signers use).
 */
import { constants, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

export type KeyAlgorithm = 'ecdsa-p256' | 'ed25519' | 'rsa';

export interface PublicKeyInfo {
  algorithm: KeyAlgorithm;
  /** sha256 of the DER SubjectPublicKeyInfo, hex: the same key gives the same fingerprint in any PEM spelling. */
  fingerprint: string;
  /** The key re-encoded as PEM (SPKI), as stored. */
  pem: string;
  key: KeyObject;
}

export type KeyParse = { ok: true; value: PublicKeyInfo } | { ok: false; error: string };

export const MAX_PEM_LENGTH = 16 * 1024;

/** Reads a PEM public key; a private key, a certificate or another curve is refused with the reason. */
export function parsePublicKey(pem: string): KeyParse {
  if (pem.length > MAX_PEM_LENGTH) return { ok: false, error: `a public key is at most ${MAX_PEM_LENGTH} characters` };
  if (/PRIVATE KEY-----/.test(pem))
    return { ok: false, error: 'this is a private key: give hoist the public key only (cosign.pub)' };
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem))
    return { ok: false, error: 'not a PEM public key (-----BEGIN PUBLIC KEY-----)' };
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    return { ok: false, error: `not a readable public key: ${(e as Error).message}` };
  }
  const algorithm = algorithmOf(key);
  if (typeof algorithm !== 'string') return { ok: false, error: algorithm.error };
  const der = key.export({ type: 'spki', format: 'der' });
  return {
    ok: true,
    value: {
      algorithm,
      fingerprint: createHash('sha256').update(der).digest('hex'),
      pem: key.export({ type: 'spki', format: 'pem' }).toString(),
      key,
    },
  };
}

function algorithmOf(key: KeyObject): KeyAlgorithm | { error: string } {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ed25519') return 'ed25519';
  if (type === 'ec')
    return details.namedCurve === 'prime256v1'
      ? 'ecdsa-p256'
      : { error: `ECDSA keys must be on P-256, not ${details.namedCurve ?? 'an unknown curve'}` };
  if (type === 'rsa' || type === 'rsa-pss')
    return (details.modulusLength ?? 0) >= 2048
      ? 'rsa'
      : { error: `RSA keys must have at least 2048 bits, not ${details.modulusLength ?? 0}` };
  return { error: `${type ?? 'these'} keys are not accepted: use ECDSA P-256, Ed25519 or RSA` };
}

/**
 * Whether a signature of this shape can be one of this key's: Ed25519 signatures are 64 bytes, ECDSA P-256 ones an
 * ASN.1 DER SEQUENCE of at most 72, RSA ones as long as the modulus. Every signature is tried against every root of
 * the project, so the others are refused without the cryptography (an RSA verify is tried twice, PKCS#1 and PSS).
 */
function mayHaveSigned(key: PublicKeyInfo, signature: Buffer): boolean {
  switch (key.algorithm) {
    case 'ed25519':
      return signature.length === 64;
    case 'ecdsa-p256':
      return signature[0] === 0x30 && signature.length >= 8 && signature.length <= 72;
    case 'rsa':
      return signature.length * 8 === (key.key.asymmetricKeyDetails?.modulusLength ?? signature.length * 8);
  }
}

/** Whether `signature` over `message` was made with the private half of `key` (never throws). */
export function verifySignature(key: PublicKeyInfo, message: Buffer, signature: Buffer): boolean {
  if (!mayHaveSigned(key, signature)) return false;
  try {
    switch (key.algorithm) {
      case 'ed25519':
        return verify(null, message, key.key, signature);
      case 'ecdsa-p256':
        return verify('sha256', message, { key: key.key, dsaEncoding: 'der' }, signature);
      case 'rsa':
        return (
          verify('sha256', message, key.key, signature) ||
          verify('sha256', message, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING }, signature)
        );
    }
  } catch {
    return false;
  }
}
