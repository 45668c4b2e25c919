/**
 * `hoist sso set|show|unset`: the OpenID provider hoist signs people in with, and how its groups map to roles
 * (`--group-role team-a:shop:promoter`, repeatable; `--group-role ops:*:admin` for hoist admins). `set` replaces the
 * whole configuration; the client secret is read from standard input (--client-secret-stdin), and kept when not given
 * again.
 */
import { client } from '../client-config.ts';
import { outputFormat, print } from '../output.ts';
import { readSecret } from '../read-secret.ts';

type Flags = { output?: string };

export const sso = {
  show: async (f: Flags) => print(await client().sso.get(), outputFormat(f.output)),
  set: async (
    f: Flags & {
      issuer: string;
      clientId: string;
      clientSecretStdin?: boolean;
      publicClient?: boolean;
      name?: string;
      scope?: string[];
      groupsClaim?: string;
      groupRole?: string[];
    },
  ) => {
    const clientSecret = f.publicClient ? null : f.clientSecretStdin ? await readSecret('', true) : undefined;
    const saved = await client().sso.put({
      issuer: f.issuer,
      clientId: f.clientId,
      ...(clientSecret !== undefined ? { clientSecret } : {}),
      ...(f.name !== undefined ? { displayName: f.name } : {}),
      ...(f.scope !== undefined ? { scopes: f.scope } : {}),
      ...(f.groupsClaim !== undefined ? { groupsClaim: f.groupsClaim } : {}),
      groupRoles: f.groupRole ?? [],
    });
    await print(saved, outputFormat(f.output));
  },
  unset: async () => client().sso.remove(),
};
