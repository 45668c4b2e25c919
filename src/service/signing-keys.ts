/**
 * The key hoist signs promotion attestations with (ECDSA P-256), and the list of every key it has signed with, for
 * verification. Where the private key lives, in order:
 * - `HOIST_SIGNING_KEY`: a PKCS#8 PEM file, shared by replicas (mounted as a secret). hoist never writes it; to
 *   rotate, put a new key in the file and restart: the old public key stays listed.
 * - a key file in the data directory (`signing.key`, mode 0600), made on first start: the embedded database's
 *   single server. `rotate` writes a new file (the old key's public half stays listed).
 * - neither (PostgreSQL replicas without a shared file): the key is made once by whichever replica starts first and
 *   kept in the database sealed with the SecretBox (HOIST_SECRET_KEY, which replicas share already for registry
 *   credentials); every replica signs with the current one, so rotation on one reaches all at their next promotion.
 * The public keys (current and retired) are in `signing_keys`; GET /api/v1/signing-key lists them.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Kysely } from 'kysely';
import { Conflict, InvalidInput } from '../errors.ts';
import {
  currentSigningKey,
  listSigningKeys,
  replaceCurrentKey,
  type SigningKeyRow,
} from '../store/signing-keys.repository.ts';
import type { Schema } from '../store/schema.ts';
import type { EnvelopeSigner } from '../trust/promotion-attestation.ts';
import { audited, type Actor } from './audited.ts';
import type { SecretBox } from './secret-box.ts';

export interface SigningKeyOptions {
  /** HOIST_SIGNING_KEY: a PKCS#8 PEM file hoist reads and never writes. */
  keyFile?: string;
  /** A key file in the data directory, made on first start (embedded database). */
  dataDirKeyFile?: string;
}

export interface SigningKeyView {
  keyId: string;
  algorithm: string;
  publicKey: string;
  current: boolean;
  source: 'file' | 'database';
  createdAt: string;
  retiredAt: string | null;
}

/** `sha256:<hex>` of the DER SubjectPublicKeyInfo: the DSSE keyid of what the key signs. */
export function keyIdOf(publicKey: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')}`;
}

function parsePrivate(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new InvalidInput(`not a PEM private key: ${(e as Error).message}`, where);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new InvalidInput('the signing key must be an ECDSA P-256 private key (PKCS#8 PEM)', where);
  return key;
}

const newPrivateKey = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const pemOf = (key: KeyObject): string => String(key.export({ type: 'pkcs8', format: 'pem' }));

/** Writes the key file with mode 0600, replacing any (a temporary file renamed over it: never half written). */
function writeKeyFile(path: string, key: KeyObject): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, pemOf(key), { mode: 0o600, flag: 'w' });
  renameSync(tmp, path);
}

class Signer implements EnvelopeSigner {
  readonly keyId: string;
  constructor(private readonly key: KeyObject) {
    this.keyId = keyIdOf(createPublicKey(key));
  }
  sign(message: Buffer): Buffer {
    return sign('sha256', message, { key: this.key, dsaEncoding: 'der' });
  }
}

export class SigningKeys {
  private fileKey: KeyObject | undefined;
  private cached: { keyId: string; signer: Signer } | undefined;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly box: SecretBox,
    private readonly opts: SigningKeyOptions = {},
  ) {}

  private get source(): 'env' | 'data-dir' | 'database' {
    return this.opts.keyFile ? 'env' : this.opts.dataDirKeyFile ? 'data-dir' : 'database';
  }

  private row(key: KeyObject, source: 'file' | 'database'): Omit<SigningKeyRow, 'retired_at'> {
    const publicKey = createPublicKey(key);
    return {
      key_id: keyIdOf(publicKey),
      algorithm: 'ecdsa-p256',
      public_key: String(publicKey.export({ type: 'spki', format: 'pem' })),
      private_key_sealed: source === 'database' ? this.box.seal(pemOf(key)) : null,
      source,
      created_at: new Date(),
    };
  }

  /** Makes sure there is a current key (at start): the file's, or one made now. Idempotent across replicas. */
  async ensure(): Promise<string> {
    if (this.source === 'env') {
      this.fileKey ??= parsePrivate(readFileSync(this.opts.keyFile ?? '', 'utf8'), 'HOIST_SIGNING_KEY');
    } else if (this.source === 'data-dir') {
      const path = this.opts.dataDirKeyFile ?? '';
      if (!existsSync(path)) {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        writeFileSync(path, pemOf(newPrivateKey()), { mode: 0o600, flag: 'wx' });
      }
      this.fileKey ??= parsePrivate(readFileSync(path, 'utf8'), path);
    }
    const fileKey = this.fileKey;
    const { key } = await this.db
      .transaction()
      .execute((trx) =>
        replaceCurrentKey(
          trx,
          (current) =>
            fileKey
              ? this.row(fileKey, 'file')
              : current?.private_key_sealed
                ? undefined
                : this.row(newPrivateKey(), 'database'),
          new Date(),
        ),
      );
    return key.key_id;
  }

  /** The signer of the current key (a database key is read each time: another replica may have rotated it). */
  async signer(): Promise<EnvelopeSigner> {
    if (this.fileKey) return new Signer(this.fileKey);
    let row = await currentSigningKey(this.db);
    if (!row?.private_key_sealed) {
      await this.ensure();
      if (this.fileKey) return new Signer(this.fileKey);
      row = await currentSigningKey(this.db);
    }
    if (!row?.private_key_sealed) throw new Error('no current signing key in the database');
    if (this.cached?.keyId !== row.key_id) {
      const signer = new Signer(parsePrivate(this.box.open(row.private_key_sealed), 'signing_keys'));
      this.cached = { keyId: row.key_id, signer };
    }
    return this.cached.signer;
  }

  async list(): Promise<SigningKeyView[]> {
    return (await listSigningKeys(this.db)).map((r) => ({
      keyId: r.key_id,
      algorithm: r.algorithm,
      publicKey: r.public_key,
      current: r.retired_at === null,
      source: r.source,
      createdAt: r.created_at.toISOString(),
      retiredAt: r.retired_at === null ? null : r.retired_at.toISOString(),
    }));
  }

  /** A new current key; the former one stays listed (retired) so what it signed still verifies. Admins only. */
  async rotate(actor: Actor): Promise<SigningKeyView> {
    if (this.source === 'env')
      throw new Conflict(
        'the signing key comes from HOIST_SIGNING_KEY: put a new ECDSA P-256 key in that file on every replica and restart (the old public key stays listed)',
      );
    const next = newPrivateKey();
    const result = await audited(
      this.db,
      actor,
      { action: 'signing-key.rotate', objectType: 'signing-key', objectId: keyIdOf(createPublicKey(next)) },
      async (trx) => {
        const r = await replaceCurrentKey(
          trx,
          () => this.row(next, this.source === 'data-dir' ? 'file' : 'database'),
          new Date(),
        );
        // The file is replaced inside the transaction: if writing it fails, the database keeps the old key too.
        if (this.source === 'data-dir') writeKeyFile(this.opts.dataDirKeyFile ?? '', next);
        return { result: r, summary: { keyId: r.key.key_id, retired: r.retired?.key_id ?? null } };
      },
    );
    if (this.source === 'data-dir') this.fileKey = next;
    const view = (await this.list()).find((k) => k.keyId === result.key.key_id);
    if (!view) throw new Error('the new signing key is not listed');
    return view;
  }
}
