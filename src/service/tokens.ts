/** Bearer secrets (API tokens, session ids): random, shown once, stored only as their SHA-256. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export function newSecret(prefix: string): { secret: string; hash: string } {
  const secret = `${prefix}_${randomBytes(24).toString('base64url')}`;
  return { secret, hash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newId(): string {
  return randomUUID();
}
