/**
 * Encrypting registry credentials at rest with AES-256-GCM. The key comes from HOIST_SECRET_KEY (32 bytes as 64 hex
 * digits or base64) or from a key file created in the data directory on first start (mode 0600). Replicas sharing
 * one PostgreSQL must share the key, so they take it from the environment.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidInput } from '../errors.ts';

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32)
      throw new InvalidInput('the secret key must be 32 bytes (64 hex digits or base64)', 'HOIST_SECRET_KEY');
  }

  /** `v1.<iv>.<tag>.<ciphertext>`, each base64url. */
  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), data]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }
}

function parseKey(text: string): Buffer {
  const t = text.trim();
  return /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
}

/** The key from the environment, else from `keyFile` (created with a fresh random key when missing). */
export function loadSecretBox(keyFile: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
  if (env.HOIST_SECRET_KEY) return new SecretBox(parseKey(env.HOIST_SECRET_KEY));
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true });
    writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return new SecretBox(parseKey(readFileSync(keyFile, 'utf8')));
}
