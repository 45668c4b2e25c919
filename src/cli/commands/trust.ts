/** `hoist trust add|list|remove`: the public keys a project trusts to sign its images, thin over the API client. */
import { readFileSync, statSync } from 'node:fs';
import { InvalidInput } from '../../errors.ts';
import { client } from '../client-config.ts';
import { outputFormat, print } from '../output.ts';

type Flags = { output?: string; project: string };
const out = (f: { output?: string }) => outputFormat(f.output);
const COLUMNS = ['name', 'algorithm', 'fingerprint', 'createdBy', 'createdAt'];

export const trust = {
  add: async (name: string, f: Flags & { key: string }) => {
    if (statSync(f.key).size > 16 * 1024) throw new InvalidInput('a public key file is at most 16 KiB', '--key');
    const root = await client().trustRoots.put(f.project, name, readFileSync(f.key, 'utf8'));
    await print(root, out(f), COLUMNS);
  },
  list: async (f: Flags) => print(await client().trustRoots.list(f.project), out(f), COLUMNS),
  remove: async (name: string, f: Flags) => {
    await client().trustRoots.remove(f.project, name);
    process.stderr.write(`no longer trusting ${name} in ${f.project}\n`);
  },
};
