/**
 * The key that signs audit checkpoints (Ed25519), used for nothing else. It comes from HOIST_AUDIT_SIGNING_KEY (a
 * PKCS#8 PEM, or its DER in base64) or from a key file created in the data directory on first start (mode 0600).
 * Replicas sharing one PostgreSQL share the key through the environment, so any of them can check another's
 * checkpoints. The key id is the SHA-256 of the public key (SPKI DER), so a checkpoint names the key that signed it.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidInput } from '../errors.ts';

export class AuditSigningKey {
  readonly keyId: string;
  readonly publicKeyPem: string;
  private readonly publicKey: KeyObject;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519')
      throw new InvalidInput('the audit signing key must be an Ed25519 private key', 'HOIST_AUDIT_SIGNING_KEY');
    this.publicKey = createPublicKey(privateKey);
    const der = this.publicKey.export({ type: 'spki', format: 'der' });
    this.keyId = `sha256:${createHash('sha256').update(der).digest('hex')}`;
    this.publicKeyPem = String(this.publicKey.export({ type: 'spki', format: 'pem' }));
  }

  /** A fresh key held in memory only (tests, and servers without a data directory). */
  static generate(): AuditSigningKey {
    return new AuditSigningKey(generateKeyPairSync('ed25519').privateKey);
  }

  static parse(text: string): AuditSigningKey {
    const t = text.trim();
    try {
      return new AuditSigningKey(
        t.startsWith('-----BEGIN')
          ? createPrivateKey(t)
          : createPrivateKey({ key: Buffer.from(t, 'base64'), format: 'der', type: 'pkcs8' }),
      );
    } catch (e) {
      if (e instanceof InvalidInput) throw e;
      throw new InvalidInput(
        `not an Ed25519 private key in PKCS#8 (PEM or base64 DER): ${(e as Error).message}`,
        'HOIST_AUDIT_SIGNING_KEY',
      );
    }
  }

  sign(message: string): string {
    return sign(null, Buffer.from(message, 'utf8'), this.privateKey).toString('base64');
  }

  verify(message: string, signature: string): boolean {
    try {
      return verify(null, Buffer.from(message, 'utf8'), this.publicKey, Buffer.from(signature, 'base64'));
    } catch {
      return false;
    }
  }
}

/** The key from the environment, else from `keyFile` (created with a fresh key when missing). */
export function loadAuditSigningKey(keyFile: string, env: NodeJS.ProcessEnv = process.env): AuditSigningKey {
  if (env.HOIST_AUDIT_SIGNING_KEY) return AuditSigningKey.parse(env.HOIST_AUDIT_SIGNING_KEY);
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyFile, String(privateKey.export({ type: 'pkcs8', format: 'pem' })), { mode: 0o600, flag: 'wx' });
  }
  return AuditSigningKey.parse(readFileSync(keyFile, 'utf8'));
}
