/** `hoist tags REPO`: every tag of a repository, one per line (or a JSON list). */
import { InvalidInput } from '../../errors.ts';
import { parseReference } from '../../oci/reference.ts';
import { openRepository } from '../../oci/registry.ts';
import { credentialsFor, HostCache, insecureList, type RegistryFlags } from '../registry-flags.ts';

export interface TagsFlags extends RegistryFlags {
  creds?: string;
  json?: boolean;
}

export async function tagsCommand(repoArg: string, flags: TagsFlags): Promise<void> {
  const ref = parseReference(repoArg, 'REPO');
  if (ref.tag !== undefined || ref.digest !== undefined)
    throw new InvalidInput('name a repository without a tag or digest', 'REPO');
  const host = new HostCache(insecureList(flags)).open(
    ref.registry,
    credentialsFor(ref.registry, flags.creds, '--creds'),
  );
  const tags = await openRepository(host, ref.repository).listTags();
  process.stdout.write(flags.json ? `${JSON.stringify(tags)}\n` : tags.map((t) => `${t}\n`).join(''));
}
