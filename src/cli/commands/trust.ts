/**
 * `hoist trust add|list|remove`: the public keys and Sigstore identities a project trusts to sign its images, thin
 * over the API client.
 */
import { readFileSync, statSync } from 'node:fs';
import { InvalidInput } from '../../errors.ts';
import { client } from '../client-config.ts';
import { outputFormat, print } from '../output.ts';

type Flags = { output?: string; project: string };
type AddFlags = Flags & {
  key?: string;
  sigstoreIssuer?: string;
  sigstoreIssuerRegex?: string;
  sigstoreSubject?: string;
  sigstoreSubjectRegex?: string;
  trustedRoot?: string;
};
const out = (f: { output?: string }) => outputFormat(f.output);
const COLUMNS = ['name', 'algorithm', 'fingerprint', 'createdBy', 'createdAt'];
const TRUSTED_ROOT_LIMIT = 256 * 1024;

function readLimited(file: string, limit: number, flag: string, what: string): string {
  if (statSync(file).size > limit) throw new InvalidInput(`${what} is at most ${limit / 1024} KiB`, flag);
  return readFileSync(file, 'utf8');
}

export const trust = {
  add: async (name: string, f: AddFlags) => {
    const sigstore = [
      f.sigstoreIssuer,
      f.sigstoreIssuerRegex,
      f.sigstoreSubject,
      f.sigstoreSubjectRegex,
      f.trustedRoot,
    ];
    const isSigstore = sigstore.some((v) => v !== undefined);
    if ((f.key !== undefined) === isSigstore)
      throw new InvalidInput(
        'trust a public key (--key FILE) or a Sigstore identity (--sigstore-issuer, --sigstore-subject, --trusted-root), one of them',
        '--key',
      );
    let root;
    if (f.key !== undefined) {
      root = await client().trustRoots.put(
        f.project,
        name,
        readLimited(f.key, 16 * 1024, '--key', 'a public key file'),
      );
    } else {
      if (f.trustedRoot === undefined)
        throw new InvalidInput(
          'a Sigstore identity needs the trusted root its certificates chain to (--trusted-root trusted_root.json)',
          '--trusted-root',
        );
      root = await client().trustRoots.putSigstore(f.project, name, {
        ...(f.sigstoreIssuer !== undefined ? { issuer: f.sigstoreIssuer } : {}),
        ...(f.sigstoreIssuerRegex !== undefined ? { issuerRegex: f.sigstoreIssuerRegex } : {}),
        ...(f.sigstoreSubject !== undefined ? { subject: f.sigstoreSubject } : {}),
        ...(f.sigstoreSubjectRegex !== undefined ? { subjectRegex: f.sigstoreSubjectRegex } : {}),
        trustedRoot: readLimited(f.trustedRoot, TRUSTED_ROOT_LIMIT, '--trusted-root', 'a trusted root file'),
      });
    }
    await print(root, out(f), COLUMNS);
  },
  list: async (f: Flags) => print(await client().trustRoots.list(f.project), out(f), COLUMNS),
  remove: async (name: string, f: Flags) => {
    await client().trustRoots.remove(f.project, name);
    process.stderr.write(`no longer trusting ${name} in ${f.project}\n`);
  },
};
