// Creates the key pair and self-signed certificate the token issuer signs with. openssl writes both into the
// fixture's temporary directory; the registry's `auth.token.rootcertbundle` points at the certificate, and every
// token carries the same certificate (DER, base64) in its `x5c` header, which distribution 2.8 verifies against
// that bundle.
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SigningCert {
  certPath: string;
  /** base64 (not base64url) DER of the certificate: the single `x5c` entry. */
  certDerBase64: string;
  privateKey: KeyObject;
}

export async function createSigningCert(dir: string, commonName: string): Promise<SigningCert> {
  const keyPath = join(dir, 'issuer-key.pem');
  const certPath = join(dir, 'issuer-cert.pem');
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '2',
      '-subj',
      `/CN=${commonName}`,
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`signing-cert: openssl req failed: ${(err as Error).message}\n${stderr}`);
  }
  const [keyPem, certPem] = await Promise.all([readFile(keyPath), readFile(certPath)]);
  return {
    certPath,
    certDerBase64: new X509Certificate(certPem).raw.toString('base64'),
    privateKey: createPrivateKey(keyPem),
  };
}
